"""A tiny preset whose labels are its random model's own predictions."""

from __future__ import annotations

import torch
from torch import nn

from captum_contrastive.presets.base import LabeledImage, Preset


class _SmallVGG(nn.Module):
    def __init__(self, num_classes: int = 4) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(8 * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class _SelfLabelled:
    def __init__(
        self, model: nn.Module, size: int, multi: bool, image_seed: int = 3
    ) -> None:
        generator = torch.Generator().manual_seed(image_seed)
        self.images = torch.rand(size, 3, 16, 16, generator=generator)
        self.masks = torch.zeros(size, 16, 16, dtype=torch.bool)
        self.masks[:, 4:12, 4:12] = True
        with torch.no_grad():
            scores = model(self.images)
        self.labels = scores.argmax(dim=1)
        self.top3 = scores.topk(3, dim=1).indices
        self.multi = multi

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> LabeledImage:
        labels = tuple(self.top3[index].tolist()) if self.multi else ()
        return LabeledImage(
            self.images[index],
            int(self.labels[index]),
            self.masks[index],
            labels=labels or (int(self.labels[index]),),
        )


def fake_preset(
    size: int = 24,
    multi: bool = False,
    image_seed: int = 3,
    weight_noise: float = 0.0,
    wrong_labels: tuple[int, ...] = (),
) -> Preset:
    """A preset named "fake" whatever its content, so caches keyed by name break.

    Args:
        image_seed: seed of the random images (another seed: other data).
        weight_noise: scale of noise added to the model's weights after the labels
            are made (other weights, mostly the same predictions).
        wrong_labels: indices whose label is changed to a wrong class (other
            labels for the same images).
    """
    from captum_contrastive.presets.base import Normalize

    torch.manual_seed(0)
    model = _SmallVGG().eval()
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    pixel = nn.Sequential(Normalize(mean, std), model).eval()
    dataset = _SelfLabelled(pixel, size, multi, image_seed)
    for index in wrong_labels:
        dataset.labels[index] = (dataset.labels[index] + 1) % 4
    if weight_noise:
        generator = torch.Generator().manual_seed(11)
        with torch.no_grad():
            for parameter in model.parameters():
                noise = torch.randn(parameter.shape, generator=generator)
                parameter.add_(weight_noise * noise)
    return Preset(
        name="fake",
        model=model,
        mean=mean,
        std=std,
        class_names=["a", "b", "c", "d"],
        dataset=dataset,
    )
