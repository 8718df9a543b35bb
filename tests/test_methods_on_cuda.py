"""Every benchmark method's maps from ``compute_maps`` on a CUDA model equal
its maps on the CPU, with the images left on the CPU as the stages hold them.

Marked ``cuda``: skipped without a GPU, run by ``benchmarks/gpu_check.py``."""

import pytest
import torch

from captum_contrastive.methods import build_methods, compute_maps, registered_methods
from tests.tiny_models import images, small_cnn

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.usefixtures("float32_cuda"),
]


@pytest.mark.parametrize("name", registered_methods())
def test_compute_maps_on_a_cuda_model_gives_the_cpu_maps(name):
    spec = build_methods()[name]
    model, inputs = small_cnn(), images(4)
    targets, indices = [0, 1, 2, 3], [0, 1, 2, 3]
    on_cpu = compute_maps(spec, model, inputs, targets, indices, seed=0)
    on_cuda = compute_maps(spec, model.cuda(), inputs, targets, indices, seed=0)
    assert on_cuda.device.type == "cpu" and on_cuda.shape == on_cpu.shape
    if spec.per_image_noise:  # the noise is drawn on each device's generator
        return
    scale = on_cpu.abs().max().clamp_min(1e-12)
    torch.testing.assert_close(on_cuda / scale, on_cpu / scale, atol=1e-5, rtol=0)
