"""What the ROAD study costs on a 224x224 model: imputations and forward passes.

Runs ``captum-contrastive road`` with every imputation and forward pass of the
study timed, and each imputation timed again alone (one image, same solver), so
the in-study / alone ratio is measured in the same run. Without --data, the 20
Foolbox ImageNet samples are labelled by a random but responsive torchvision
model (batch-norm statistics of the samples, see
captum_contrastive.profiling.road_cost.calibrated_random_samples).

python benchmarks/road_cost.py --out /tmp/road_cost            # MobileNetV2, 8 images
python benchmarks/road_cost.py --out /tmp/b --compare /tmp/a   # compare ROAD records
python benchmarks/road_cost.py --out /tmp/b -- --device cuda   # extra road options
"""

import argparse
import json
import sys
from pathlib import Path

from captum_contrastive.atomic_files import atomic_write_json
from captum_contrastive.profiling.road_cost import (
    calibrated_random_samples,
    compare_road_results,
    format_road_cost,
    profile_road_study,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/road_cost"))
    parser.add_argument("--model", default="mobilenet_v2", help="torchvision name")
    parser.add_argument("--samples", type=Path, help="folder for the labelled samples")
    parser.add_argument("--data", type=Path, help="images (with --labels, --weights)")
    parser.add_argument("--labels", type=Path)
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--images", type=int, default=8, help="ROAD images")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-alone", action="store_true", help="skip alone timings")
    parser.add_argument("--compare", type=Path, help="another run's output folder")
    parser.add_argument("extra", nargs="*", help="more road options, after --")
    args = parser.parse_args()
    if args.data is None:
        samples = args.samples or args.out.with_name(args.out.name + "_samples")
        args.data, args.labels, args.weights = calibrated_random_samples(
            args.model, samples
        )
    argv = [
        "--model", f"torchvision:{args.model}", "--weights", str(args.weights),
        "--data", str(args.data), "--labels", str(args.labels),
        "--n-images", str(args.images), "--road-images", str(args.images),
        "--threads", str(args.threads), "--sample-order", "index",
        "--out", str(args.out), "--no-progress", *args.extra,
    ]  # fmt: skip
    cost = profile_road_study(argv, time_alone=not args.no_alone)
    print(format_road_cost(cost))
    found = cost.to_json()
    atomic_write_json(args.out / "road_cost.json", found, indent=1)
    if args.compare is not None:
        found["compare"] = compare_road_results(args.compare, args.out)
        print(json.dumps(found["compare"], indent=1))
        atomic_write_json(args.out / "road_cost.json", found, indent=1)
    return cost.exit_code


if __name__ == "__main__":
    sys.exit(main())
