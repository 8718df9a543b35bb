"""Peak memory of benchmark runs on ImageNet-size models with random weights.

For each model, the 20 Foolbox ImageNet samples are labelled with the model's own
predictions, and ``captum-contrastive run`` is measured under ``/usr/bin/time -v``
at each image count (default: the default methods, FGSM only, two studies).

python benchmarks/memory_budget.py --models vgg16,resnet50 --n-images 16,20
"""

import argparse
import json
import sys
from pathlib import Path

from captum_contrastive.profiling.run_peak_memory import (
    measure_run,
    self_labelled_samples,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vgg16,resnet50")
    parser.add_argument("--n-images", default="16,20")
    parser.add_argument("--out", type=Path, default=Path("results/memory_budget"))
    parser.add_argument(
        "--run-options",
        default="--attacks fgsm --recovery-attacks fgsm --studies recovery,adversarial",
        help="options passed to each run",
    )
    args = parser.parse_args()
    found = []
    for model in args.models.split(","):
        labels, weights = self_labelled_samples(model, args.out / model)
        for n in [int(v) for v in args.n_images.split(",")]:
            run = measure_run(
                model,
                labels.parent / "images",
                labels,
                weights,
                n,
                args.out / model / f"run_{n}",
                args.run_options.split(),
            )
            print(json.dumps(run.to_json()), flush=True)
            found.append(run.to_json())
    (args.out / "memory.json").write_text(json.dumps(found, indent=1))
    return 0 if all(r["returncode"] == 0 for r in found) else 1


if __name__ == "__main__":
    sys.exit(main())
