"""Every error of the command line in the user's words: each test runs the
command (``main(argv)``) and checks the message and the exit status."""

from __future__ import annotations

import errno
import json
import os
import re
import urllib.error
import urllib.request
import warnings
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from PIL import Image

from captum_contrastive import cli as top_cli
from captum_contrastive.pipeline import out_folder, runner
from captum_contrastive.pipeline.cli import config_from_args, main
from captum_contrastive.pipeline.memory_plan import HeldDataWarning
from captum_contrastive.pipeline.stages import shortfall_message
from captum_contrastive.presets.image_folder import load_image
from captum_contrastive.presets.user import (
    RandomWeightsWarning,
    image_transform,
    user_preset,
)
from captum_contrastive.presets.user_model import ModelSpec

#: A small shapes run of one cheap study.
SMALL = [
    "--n-images", "2",
    "--methods", "saliency",
    "--sanity-images", "2",
    "--no-progress",
]  # fmt: skip


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line the command printed on stderr (no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``argv``; it must stop with argparse's status 2; returns stderr."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty torch hub cache and a network that fails like an offline one."""

    def urlopen(url: str, timeout: float | None = None):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def test_offline_imagenet_preset_names_the_weights_option(
    tmp_path, offline_hub, capsys
) -> None:
    err = _usage_error(
        ["--preset", "imagenet-vgg16", "--out", str(tmp_path / "out")], capsys
    )
    assert "pass --weights to load a state dict" in err
    assert "weights_path" not in err


def test_a_flat_data_folder_names_the_labels_option(tmp_path, capsys) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (8, 8)).save(flat / "a.png")
    argv = ["--preset", "imagenet-vgg16", "--data", str(flat)]
    err = _usage_error([*argv, "--out", str(tmp_path / "out")], capsys)
    assert "has no class subfolders" in err and "(`--labels`)" in err
    assert "from_label_file" not in err and "labels_file" not in err


def test_out_pointing_at_a_file_is_one_line(tmp_path, capsys) -> None:
    file = tmp_path / "results.txt"
    file.write_text("not a folder")
    assert main(["--out", str(file), *SMALL]) == 2
    line = _error_line(capsys)
    assert f"`--out` {file} is a file; give a folder path" in line
    assert main(["--out", str(file / "run"), *SMALL]) == 2
    line = _error_line(capsys)
    assert f"cannot be created: {file} is a file" in line


def _read_only(folder: Path):
    """``os.access`` that says ``folder`` and what is under it cannot be written
    (chmod does not stop root, who runs the tests in CI)."""
    real = os.access

    def access(path, mode, *args, **kwargs) -> bool:
        inside = Path(path) == folder or folder in Path(path).parents
        if inside and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)

    return access


def test_a_read_only_out_is_one_line_naming_report_out(
    tmp_path, monkeypatch, capsys
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    monkeypatch.setattr(out_folder.os, "access", _read_only(media))
    assert main(["--out", str(media / "run"), *SMALL]) == 2
    line = _error_line(capsys)
    assert f"`--out` {media / 'run'} is read-only ({media} cannot be written)" in line
    assert "`--report-out DIR`" in line


def test_a_failed_write_during_the_run_is_one_line(
    tmp_path, monkeypatch, capsys
) -> None:
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/media/run/cache/x")

    monkeypatch.setattr(runner, "run_benchmark", refuse)
    assert main(["--out", str(tmp_path / "out"), *SMALL]) == 2
    line = _error_line(capsys)
    assert "cannot write /media/run/cache/x (Permission denied)" in line
    assert "writable `--out`" in line


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def test_report_out_re_renders_a_finished_run_without_writing_to_it(
    tmp_path, monkeypatch, capsys
) -> None:
    out, again = tmp_path / "run", tmp_path / "again"
    argv = ["localization", "--out", str(out), *SMALL]
    assert top_cli.main(argv) == 0
    before = _tree(out)
    # the run's folder is read-only from now on
    monkeypatch.setattr(out_folder.os, "access", _read_only(out))
    assert top_cli.main(argv) == 2
    assert "--report-out" in _error_line(capsys)
    assert top_cli.main([*argv, "--report-out", str(again)]) == 0
    assert f"wrote {again / 'report.md'}" in capsys.readouterr().out
    assert _tree(out) == before
    summary = (again / "summary.csv").read_text()
    assert summary == (out / "summary.csv").read_text()
    assert (again / "report.md").is_file() and (again / "report.html").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["localization", "--out", str(empty), "--report-out", str(again)]
    assert top_cli.main([*argv, *SMALL]) == 2
    assert "holds no run to re-render" in _error_line(capsys)


def test_ctrl_c_says_how_to_resume_and_exits_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_benchmark", interrupted)
    out = tmp_path / "out"
    assert top_cli.main(["localization", "--out", str(out), *SMALL]) == 130
    line = _error_line(capsys)
    assert "interrupted; run the same command again to resume" in line
    assert str(out / "cache") in line


def test_recovery_attacks_not_attacked_name_both_options(tmp_path, capsys) -> None:
    out = ["--out", str(tmp_path / "out")]
    err = _usage_error(["--recovery-attacks", "fgsm", "--attacks", "bim", *out], capsys)
    assert "`--recovery-attacks` fgsm: not among `--attacks` (bim)" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as stopped:
        top_cli.main(["recovery", "--attacks", "bim", *out])
    assert stopped.value.code == 2
    assert "`--recovery-attacks` cw: not among `--attacks` (bim)" in (
        capsys.readouterr().err
    )


def test_default_recovery_attacks_leave_other_runs_alone() -> None:
    from captum_contrastive.pipeline.cli import build_parser

    args = build_parser("x", "results/x").parse_args(["--attacks", "bim"])
    config, _ = config_from_args(args, ("recovery", "adversarial"))
    assert config.recovery_runs() == []


@pytest.mark.parametrize("option", ["--batch", "--size", "--repeats", "--ig-steps"])
def test_speed_refuses_a_batch_of_zero(option, monkeypatch, capsys) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # no re-execution
    with pytest.raises(SystemExit) as stopped:
        top_cli.main(["speed", option, "0"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: must be a positive integer, got 0" in err
    assert "usage: captum-contrastive speed" in err


def test_the_held_data_warning_never_suggests_zero_images(
    tmp_path, monkeypatch, capsys
) -> None:
    def stop(*args, **kwargs):
        raise KeyboardInterrupt  # the warning came before the long stages

    monkeypatch.setattr(runner, "_attacks_and_maps", stop)
    argv = ["adversarial", "--attacks", "fgsm", "--max-memory", "1M"]
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always")
        assert top_cli.main([*argv, "--out", str(tmp_path / "out"), *SMALL]) == 130
    held = [str(w.message) for w in found if w.category is HeldDataWarning]
    assert len(held) == 1, held
    assert "--n-images to" not in held[0]
    assert "fewer images cannot meet it" in held[0]
    assert "Raise --max-memory to" in held[0]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((3, 16, 0, 8), "only 3 of the 16 images are classified correctly"),
        ((1, 16, 0, 8), "only 1 of the 16 images is classified correctly"),
        ((12, 12, 0, 13), "all 12 images are classified correctly"),
        ((1, 1, 0, 2), "the only image is classified correctly"),
        ((0, 5, 0, 2), "none of the 5 images is classified correctly"),
        ((0, 1, 0, 2), "none of the 1 image is classified correctly"),
        ((0, 3, 3, 2), "none of the 3 images can be read"),
        ((2, 6, 1, 4), "only 2 of the 5 images are classified correctly (1 image "),
    ],
)
def test_the_shortfall_is_grammatical(counts, expected) -> None:
    message = shortfall_message(*counts)
    assert message.startswith(expected), message
    assert f"`n_images` = {counts[3]} cannot be met" in message


def test_a_full_disk_fails_before_the_attacks(tmp_path, monkeypatch, capsys):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(
        out_folder.shutil, "disk_usage", lambda path: usage(2**40, 2**40, 2**10)
    )
    out = tmp_path / "out"
    argv = ["adversarial", "--attacks", "fgsm", "--out", str(out), *SMALL]
    assert top_cli.main(argv) == 2
    line = _error_line(capsys)
    needed = re.search(r"needs about ([\d.]+) KiB more \(an estimate: ([\d.]+) ", line)
    assert needed and float(needed[1]) > 1 and float(needed[2]) >= float(needed[1])
    assert f"but {out / 'cache'} has 1 KiB free" in line
    assert "lower `--n-images`" in line
    assert not (out / "cache" / "attack").exists()


#: A factory that loads its own trained weights, as most factories do.
LOADING_FACTORY = """
import torch
from torch import nn

WEIGHTS = {weights!r}


def build() -> nn.Module:
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 16 * 16, 3),
    )
    if WEIGHTS:
        model.load_state_dict(torch.load(WEIGHTS, weights_only=True))
    return model
"""


def _factory(folder: Path, loads: bool) -> str:
    weights = folder / "trained.pt"
    namespace: dict = {}
    exec(LOADING_FACTORY.format(weights=""), namespace)  # noqa: S102
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save(namespace["build"]().state_dict(), weights)
    path = folder / f"factory_{'loads' if loads else 'random'}.py"
    path.write_text(LOADING_FACTORY.format(weights=str(weights) if loads else ""))
    return f"{path}:build"


def _labelled_images(folder: Path, model: str, count: int = 8) -> tuple[str, str]:
    """Images labelled by the model's own predictions, so all are correct (the
    run passes mean 0 and std 1: the model sees the pixels as they are)."""
    network = ModelSpec.parse(model).build()
    images = folder / "images"
    images.mkdir()
    generator = torch.Generator().manual_seed(0)
    lines = []
    for i in range(count):
        array = (torch.rand(16, 16, 3, generator=generator) * 255).to(torch.uint8)
        Image.fromarray(array.numpy()).save(images / f"{i}.png")
        image = load_image(images / f"{i}.png", image_transform(16))[None]
        with torch.no_grad():
            lines.append(f"{i}.png {int(network(image).argmax())}")
    (folder / "labels.txt").write_text("\n".join(lines) + "\n")
    return str(images), str(folder / "labels.txt")


def test_a_factory_with_random_weights_still_warns(tmp_path) -> None:
    model = _factory(tmp_path, loads=False)
    data, labels = _labelled_images(tmp_path, model)
    with pytest.warns(RandomWeightsWarning):
        preset = user_preset(model, data=data, labels_file=labels, image_size=16)
    assert "(random weights)" in preset.description


def test_a_factory_loading_its_weights_is_not_random_and_claim_3_names_the_option(
    tmp_path, capsys
) -> None:
    model = _factory(tmp_path, loads=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RandomWeightsWarning)
        data, labels = _labelled_images(tmp_path, model)
        out = tmp_path / "out"
        argv = [
            "adversarial",
            "--model", model,
            "--data", data,
            "--labels", labels,
            "--image-size", "16",
            "--mean", "0,0,0",
            "--std", "1,1,1",
            "--n-images", "4",
            "--methods", "saliency,enhanced_gbp",
            "--attacks", "bim",
            "--bim-epsilon", "1.0",
            "--out", str(out),
            "--no-progress",
        ]  # fmt: skip
        assert top_cli.main(argv) == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    description = results["run"]["preset"]["description"]
    assert "(weights loaded by the factory)" in description
    report = (out / "report.md").read_text()
    assert "random weights" not in report
    claim = results["verdicts"]["adversarial_change"]
    assert claim["verdict"] == "inconclusive"
    assert (
        "BIM fooled the model on 4 of 4 images at its fixed radius, leaving no "
        "Adv_f group with n >= 2. To decide the claim, calibrate BIM's radius"
    ) in report
    assert "`--bim-calibrate-failure 0.3`" in report
