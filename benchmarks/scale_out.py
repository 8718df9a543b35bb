"""Time the default run in one process against torchrun ranks (not a test).

Each run starts from an empty folder; 1 rank x 1 thread and 2 ranks x 1 thread
are interleaved, twice each. Writes results/scale_out/split_timing.json and
prints the medians, the speed-up and each rank's busy seconds.

python benchmarks/scale_out.py [--ranks 1,2] [--repeats 2] [run options...]
"""

import argparse
import json
import sys
from pathlib import Path

from captum_contrastive.profiling.split_timing import time_split_runs

RUN_ALL = Path(__file__).with_name("run_all.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", default="1,2")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/scale_out"))
    args, run_options = parser.parse_known_args()
    ranks = tuple(int(r) for r in args.ranks.split(","))
    found = time_split_runs(RUN_ALL, run_options, args.out, ranks, args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "split_timing.json").write_text(json.dumps(found, indent=1))
    for count, wall in found["median_wall_s"].items():
        print(f"{count} rank(s): median {wall:.1f} s, {found['speedup'][count]:.2f}x")
    for run in found["runs"]:
        for rank in run["rank_timings"]:
            busy = ", ".join(f"{k} {v:.1f} s" for k, v in rank["busy_seconds"].items())
            print(
                f"  ranks={run['ranks']} repeat={run['repeat']} rank {rank['rank']}: "
                f"{rank['work_items']} work items, {busy}"
            )
    print(f"same summary.csv in every run: {found['same_summary']}")
    return 0 if found["same_summary"] else 1


if __name__ == "__main__":
    sys.exit(main())
