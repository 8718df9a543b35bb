"""Your model and your images through the installed ``captum-contrastive`` command."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from PIL import Image

from captum_contrastive.presets.base import Normalize
from captum_contrastive.presets.image_folder import load_image
from captum_contrastive.presets.user import image_transform
from tests.presets.test_user_model import FACTORY

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """A factory file, its weights, and 12 images labelled by the model itself."""
    root = tmp_path_factory.mktemp("user")
    (root / "my_model.py").write_text(FACTORY)
    namespace: dict = {}
    exec(FACTORY, namespace)
    model = namespace["build"](num_classes=3).eval()
    torch.save(model.state_dict(), root / "weights.pt")
    images = root / "images"
    images.mkdir()
    generator = torch.Generator().manual_seed(1)
    lines = []
    pixel = torch.nn.Sequential(Normalize(MEAN, STD), model).eval()
    for i in range(12):
        array = (torch.rand(40, 44, 3, generator=generator) * 255).to(torch.uint8)
        path = images / f"img{i:02d}.png"
        Image.fromarray(array.numpy()).save(path)
        with torch.no_grad():
            label = int(pixel(load_image(path, image_transform(32))[None]).argmax())
        lines.append(f"{path.name} {label}")
    (root / "labels.txt").write_text("\n".join(lines) + "\n")
    return root


def _command() -> list[str]:
    found = shutil.which("captum-contrastive")
    return [found] if found else [sys.executable, "-m", "captum_contrastive"]


def test_console_script_runs_a_factory_model_with_weights(user_files, tmp_path):
    out = tmp_path / "out"
    options = [
        "--model", f"{user_files / 'my_model.py'}:build",
        "--weights", str(user_files / "weights.pt"),
        "--num-classes", "3",
        "--data", str(user_files / "images"),
        "--labels", str(user_files / "labels.txt"),
        "--image-size", "32",
        "--mean", "0.5,0.5,0.5",
        "--std", "0.25,0.25,0.25",
        "--n-images", "4",
        "--methods", "saliency,enhanced_gbp,layer_gradcam",
        "--attacks", "bim",
        "--out", str(out),
        "--no-progress",
    ]  # fmt: skip
    done = subprocess.run(
        [*_command(), "run", *options], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["run"]["preset"]["name"].endswith("my_model.py:build")
    assert results["run"]["config"]["image_size"] == 32
    assert results["verdicts"]["filtering_effect"]["verdict"] == "not evaluated"
    assert "adversarial" in results and "bim" in results["adversarial"]


def test_a_missing_cam_layer_is_refused_before_any_work(user_files, tmp_path):
    out = tmp_path / "out"
    options = [
        "--model", f"{user_files / 'my_model.py'}:build",
        "--weights", str(user_files / "weights.pt"),
        "--data", str(user_files / "images"),
        "--labels", str(user_files / "labels.txt"),
        "--image-size", "32",
        "--cam-layer", "features.99",
        "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(
        [*_command(), "recovery", *options], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "--cam-layer" in done.stderr
    assert not (out / "cache").exists()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--model", "torchvision:nope"], "--model"),
        (["--model", "torchvision:resnet18", "--mean", "1,2"], "--mean"),
        (["--model", "torchvision:resnet18", "--std", "0,1,1"], "--std"),
        (["--model", "torchvision:resnet18", "--num-classes", "1"], "--num-classes"),
        (["--model", "torchvision:resnet18", "--image-size", "3"], "--image-size"),
        (["--model", "torchvision:resnet18", "--weights", "/no/w.pt"], "--weights"),
        (["--model", "torchvision:resnet18", "--preset", "imagenet-vgg16"], "--model"),
        (["--cam-layer", "features.1"], "--cam-layer"),
        (["--mean", "0,0,0"], "--mean"),
        (["--model", "torchvision:resnet18", "--num-classes", "3"], "label"),
    ],
)
def test_bad_model_options_are_refused(options, named, tmp_path, capsys) -> None:
    from captum_contrastive.pipeline.cli import main

    with pytest.raises(SystemExit) as stopped:
        main([*options, "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert named in capsys.readouterr().err


def test_too_few_correct_images_is_a_usage_error(user_files, tmp_path, capsys):
    from captum_contrastive.pipeline.cli import main

    options = [
        "--model", f"{user_files / 'my_model.py'}:build",
        "--weights", str(user_files / "weights.pt"),
        "--data", str(user_files / "images"),
        "--labels", str(user_files / "labels.txt"),
        "--image-size", "32",
        "--n-images", "13",
        "--methods", "saliency",
        "--out", str(tmp_path / "out"),
        "--no-progress",
    ]  # fmt: skip
    with pytest.raises(SystemExit) as stopped:
        main(options)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--n-images" in err
    assert "all 12 images are classified correctly; `--n-images` = 13 cannot" in err
    assert "only 12 of 12" not in err


def test_model_shapes_is_the_shapes_preset() -> None:
    from captum_contrastive.pipeline.config import BenchmarkConfig

    assert BenchmarkConfig(model="shapes").model is None


def test_an_unreadable_image_is_skipped_and_reported(user_files, tmp_path):
    from captum_contrastive.pipeline.config import BenchmarkConfig
    from captum_contrastive.pipeline.report import write_outputs
    from captum_contrastive.pipeline.runner import load_preset, run_benchmark

    images = tmp_path / "images"
    shutil.copytree(user_files / "images", images)
    (images / "img00.png").write_bytes(b"not a png")
    config = BenchmarkConfig(
        model=f"{user_files / 'my_model.py'}:build",
        weights_path=str(user_files / "weights.pt"),
        data=str(images),
        labels_file=str(user_files / "labels.txt"),
        image_size=32,
        mean=MEAN,
        std=STD,
        n_images=4,
        sample_order="index",  # image 0 is scanned first, so it is reported
        methods=("saliency",),
        attacks=("bim",),
        studies=("adversarial",),
        n_resamples=50,
        out=tmp_path / "out",
        progress=False,
    )
    run = run_benchmark(config, load_preset(config))
    assert list(run.data.selection.unreadable) == [0]
    assert 0 not in run.data.selection.indices
    write_outputs(run)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert "img00.png" in results["run"]["unreadable"]["0"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "1 image(s) of the scanned data could not be read" in report
