"""Success rates and perturbation norms of the benchmark's attacks.

Attacks the first --n-images correctly classified test images of the preset with C&W
(κ=0 and the larger κ), FGSM and BIM, configured as in run_all.py (or --full).

    python benchmarks/attack_strength.py --n-images 100
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from captum_contrastive.pipeline.attack_strength import attack_strength
from captum_contrastive.pipeline.cache import atomic_write_text
from captum_contrastive.pipeline.cli import option_error
from captum_contrastive.pipeline.config import BenchmarkConfig
from captum_contrastive.pipeline.runner import load_preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--preset", default="shapes", choices=["shapes", "imagenet-vgg16"]
    )
    parser.add_argument("--n-images", type=int, default=100)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path("results/attack_strength"))
    args = parser.parse_args()
    if args.n_images < 1:
        parser.error(f"--n-images must be a positive integer, got {args.n_images}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    settings = dict(preset=args.preset, device=args.device, sweep_kappas=())
    try:
        config = (
            BenchmarkConfig.full(**settings)
            if args.full
            else BenchmarkConfig(**settings)
        )
    except ValueError as error:
        parser.error(option_error(error))
    torch.set_num_threads(args.threads)
    results = attack_strength(
        load_preset(config),
        config.attack_runs(),
        args.n_images,
        device=args.device,
        sample_order=config.sample_order,
        seed=config.seed,
    )
    print(
        f"{results['n_images']} correctly classified of the first "
        f"{results['scanned']} in the sample order ({results['sample_order']})"
    )
    for name, row in results.items():
        if isinstance(row, dict):
            l2 = "n/a" if row["median_l2"] is None else f"{row['median_l2']:.3f}"
            linf = "n/a" if row["median_linf"] is None else f"{row['median_linf']:.4f}"
            print(
                f"{name:8s} success {row['success_rate']:.2f}  median L2 {l2}  "
                f"median Linf {linf}  {row['seconds']:.1f} s"
            )
    path = atomic_write_text(
        args.out / "attack_strength.json", json.dumps(results, indent=1)
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
