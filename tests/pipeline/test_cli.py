import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_run_all_cli_on_the_shapes_preset(tmp_path) -> None:
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "run_all.py"),
        "--n-images",
        "4",
        "--methods",
        "enhanced_gbp,saliency",
        "--attacks",
        "cw,bim",
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "claim recovery:" in done.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["run"]["config"]["n_images"] == 4
    assert set(results["recovery"]) == {"cw-k0", "cw-k5", "cw-k2", "cw-k10"}
    report = (tmp_path / "report.md").read_text()
    assert "## C&W κ sweep" in report and "## Verdicts" in report
    assert (tmp_path / "kappa_sweep.png").exists()
    assert (tmp_path / "summary.csv").read_text().startswith("study,")
