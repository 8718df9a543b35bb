"""The Foolbox attacks on a CUDA model: the batch is consistent with a fresh
forward pass on the GPU, and FGSM and BIM agree with their CPU runs.

Marked ``cuda``: skipped without a GPU, run by ``benchmarks/gpu_check.py``."""

import pytest
import torch

from captum_contrastive.presets.base import Normalize
from tests.attacks.test_foolbox_attacks import (
    ATTACKS,
    MEAN,
    PREPROCESSING,
    STD,
    data,
    tiny_cnn,
)

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.usefixtures("float32_cuda"),
]


@pytest.mark.parametrize("make_attack", ATTACKS)
def test_attacks_on_cuda_match_a_fresh_gpu_forward_pass(make_attack):
    model, images = tiny_cnn().cuda(), data().cuda()
    with torch.no_grad():
        labels = model(Normalize(MEAN, STD).cuda()(images)).argmax(1)
    batch = make_attack()(model, images, labels, preprocessing=PREPROCESSING)
    assert batch.adversarial.device.type == "cuda"
    with torch.no_grad():
        again = model(Normalize(MEAN, STD).cuda()(batch.adversarial)).argmax(1)
    assert torch.equal(batch.adversarial_predictions.to(again.device), again)
    assert batch.success.any()
    assert 0 <= batch.adversarial.min() and batch.adversarial.max() <= 1


@pytest.mark.parametrize("make_attack", ATTACKS[:2])
def test_gradient_sign_attacks_agree_with_their_cpu_runs(make_attack):
    model, images = tiny_cnn(), data()
    with torch.no_grad():
        labels = model(Normalize(MEAN, STD)(images)).argmax(1)
    on_cpu = make_attack()(model, images, labels, preprocessing=PREPROCESSING)
    on_cuda = make_attack()(
        model.cuda(), images.cuda(), labels.cuda(), preprocessing=PREPROCESSING
    )
    # A sign can flip where a gradient entry is within rounding of zero.
    same = on_cuda.adversarial.cpu().sub(on_cpu.adversarial).abs().lt(1e-5)
    assert same.float().mean() > 0.99
    assert torch.equal(on_cuda.success.cpu(), on_cpu.success)
