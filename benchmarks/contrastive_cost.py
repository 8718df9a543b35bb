"""Cost of contrastive IntegratedGradients against one IntegratedGradients call.

Times ``IntegratedGradients(vgg16).attribute`` (one class) and
``ContrastiveAttribution(IntegratedGradients(vgg16)).attribute`` (class k against
class m, forward passes shared), interleaved and repeated, on random weights and
random images; prints the medians and their ratio. ``--two-call`` also times the
contrastive form without shared forward passes (two IG calls), for reference.

    python benchmarks/contrastive_cost.py --batch 2 --n-steps 16 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

# Passive OpenMP waiting must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torchvision  # noqa: E402
from captum.attr import IntegratedGradients  # noqa: E402

from captum_contrastive import ContrastiveAttribution  # noqa: E402
from captum_contrastive.attr import shared_forward  # noqa: E402


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=2, help="images (default 2)")
    parser.add_argument("--n-steps", type=int, default=16, help="IG steps (16)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats")
    parser.add_argument("--size", type=int, default=224, help="image side (224)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2)")
    parser.add_argument(
        "--internal-batch-size", type=int, default=None, help="IG chunk (None)"
    )
    parser.add_argument(
        "--two-call", action="store_true", help="also time the two-call path"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = torchvision.models.vgg16(weights=None).eval()
    x = torch.rand(args.batch, 3, args.size, args.size)
    with torch.no_grad():
        top2 = model(x).topk(2, dim=1).indices
    k, m = top2[:, 0].tolist(), top2[:, 1].tolist()
    ig_kwargs = {
        "n_steps": args.n_steps,
        "internal_batch_size": args.internal_batch_size,
    }
    ig = IntegratedGradients(model)
    contrastive = ContrastiveAttribution(IntegratedGradients(model))
    shared = shared_forward.shared_gradient_maps

    def two_calls() -> None:
        shared_forward.shared_gradient_maps = lambda *a: None
        try:
            contrastive.attribute(x, target=k, contrast_target=m, **ig_kwargs)
        finally:
            shared_forward.shared_gradient_maps = shared

    runs: dict[str, Callable[[], object]] = {
        "one IG call": lambda: ig.attribute(x, target=k, **ig_kwargs),
        "contrastive IG (shared)": lambda: contrastive.attribute(
            x, target=k, contrast_target=m, **ig_kwargs
        ),
    }
    if args.two_call:
        runs["contrastive IG (two calls)"] = two_calls
    ig.attribute(x[:1], target=k[:1], n_steps=1)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
            print(f"repeat {repeat + 1} {name}: {times[name][-1]:.2f} s", flush=True)
    print(
        f"vgg16 {args.size}x{args.size}, batch {args.batch}, n_steps {args.n_steps}, "
        f"{args.threads} threads, {args.repeats} repeats, medians:"
    )
    base = statistics.median(times["one IG call"])
    for name, values in times.items():
        median = statistics.median(values)
        ratios = [v / b for v, b in zip(values, times["one IG call"], strict=True)]
        print(
            f"  {name:28s} {median:8.2f} s  ratio {median / base:.2f}x "
            f"(median of paired ratios {statistics.median(ratios):.2f}x)"
        )


if __name__ == "__main__":
    main()
