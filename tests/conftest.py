import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models run far faster on one thread (2 threads measured 14x slower on
    the 2-core CI machine); the previous setting is restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    """Report the size of the conformance matrix (tests/attr/test_conformance.py)
    and how many of its cases passed, also under pytest-xdist."""
    counts: dict[str, int] = {}
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if "test_conformance.py::" in nodeid and report.when == "call":
                counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        total = sum(counts.values())
        detail = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        terminalreporter.write_line(f"conformance matrix: {total} cases ({detail})")


def pytest_collection_modifyitems(items: list) -> None:
    """Run the conformance matrix's thousands of short cases last, so that
    under pytest-xdist they fill the time while the other worker finishes a
    long pipeline test, instead of leaving it alone at the end."""
    items.sort(key=lambda item: "test_conformance.py::" in item.nodeid)


@pytest.fixture
def float32_cuda():
    """TF32 off for the scope, so CUDA convolutions and matmuls compute in
    float32, as the CPU does; the settings are restored afterwards."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
