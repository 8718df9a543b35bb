"""Project the wall time of a large run from measured per-unit costs (not a test).

Measures a forward pass, a gradient pass, a C&W step, every default method's
maps and the map comparisons per image on torchvision vgg16(weights=None) at
224², then projects the default benchmark on --n-images images over --workers
processes, each as fast as the device measured here (CPU unless --device cuda).
Writes results/scale_projection/projection.json.

python benchmarks/scale_projection.py --n-images 50000 --workers 8
"""

import argparse
import json
import sys
from pathlib import Path

import torch
import torchvision

from captum_contrastive.profiling.projection import measure_unit_costs, project_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--model", default="vgg16")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--cw-steps-share",
        type=float,
        default=1.0,
        help="share of C&W steps run before early abort (1: upper bound)",
    )
    parser.add_argument("--out", type=Path, default=Path("results/scale_projection"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = torchvision.models.get_model(args.model, weights=None)
    costs = measure_unit_costs(model, batch=args.batch, device=args.device)
    found = project_run(
        costs, args.n_images, args.workers, cw_steps_share=args.cw_steps_share
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "projection.json").write_text(json.dumps(found, indent=1))
    print(f"measured on {costs.device}, seconds per image:")
    print(
        f"  forward {costs.forward_s:.3f}, gradient {costs.gradient_s:.3f}, "
        f"C&W step {costs.cw_step_s:.3f}, map comparison {costs.similarity_s:.4f}"
    )
    for name, seconds in costs.maps_s.items():
        print(f"  maps {name}: {seconds:.2f}")
    hours = {k: v / 3600 for k, v in found["seconds"].items()}
    print(
        f"projected, {args.n_images} images on {args.workers} workers (hours): "
        + ", ".join(f"{k} {v:.1f}" for k, v in hours.items())
    )
    print(
        "  studies (hours on one rank): "
        + ", ".join(f"{k} {v / 3600:.1f}" for k, v in found["study_s"].items())
    )
    print(
        f"  total {found['total_s'] / 3600:.1f} h; one process "
        f"{found['one_process_s'] / 3600:.1f} h"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
