"""Your classifier from a command-line string: torchvision, timm, or your factory.

A model is named by one of:

* ``torchvision:NAME``: any torchvision classification model (random weights,
  or ``weights=`` a local file);
* ``timm:NAME``: a timm model (optional extra ``[timm]``), random or local
  weights;
* ``path/to/file.py:factory`` or ``package.module:factory``: a callable that
  returns an ``nn.Module`` (called with ``num_classes=`` when given).

Nothing is downloaded: weights come from a local ``.pt``/``.pth`` state dict
(loaded with ``weights_only=True``) or a ``.safetensors`` file.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from captum_contrastive.presets.checkpoints import _load_strict, load_state_dict_file

__all__ = ["ModelSpec", "load_weights_file"]

WEIGHT_SUFFIXES = (".pt", ".pth", ".safetensors")


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model string.

    Attributes:
        source: ``"torchvision"``, ``"timm"``, ``"file"`` or ``"module"``.
        name: the model name (torchvision, timm) or the factory's name.
        location: the ``.py`` file or the module path of a factory.
    """

    source: str
    name: str
    location: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """Parse ``text``; ``ValueError`` naming `model` when it cannot be used."""
        prefix, sep, rest = str(text).rpartition(":")
        if not sep or not prefix or not rest:
            raise ValueError(
                f"`model` {text!r} is not 'shapes', 'torchvision:NAME', 'timm:NAME', "
                "'file.py:factory' or 'package.module:factory'"
            )
        if prefix in ("torchvision", "timm"):
            spec = cls(prefix, rest)
        elif prefix.endswith(".py"):
            spec = cls("file", rest, prefix)
        else:
            spec = cls("module", rest, prefix)
        spec.check()
        return spec

    def check(self) -> None:
        """Check what can be checked without building the model."""
        if self.source == "torchvision":
            names = torchvision.models.list_models(module=torchvision.models)
            if self.name not in names:
                raise ValueError(
                    f"`model` torchvision:{self.name} is not a torchvision "
                    f"classification model; e.g. {', '.join(names[:6])}, ..."
                )
        elif self.source == "timm" and importlib.util.find_spec("timm") is None:
            raise ValueError(
                "`model` timm:... needs timm: pip install 'captum-contrastive[timm]'"
            )
        elif self.source == "file" and not Path(self.location).is_file():
            raise ValueError(f"`model` file {self.location} does not exist")
        elif (
            self.source == "module"
            and importlib.util.find_spec(self.location.split(".")[0]) is None
        ):
            raise ValueError(f"`model` module {self.location!r} cannot be imported")

    def __str__(self) -> str:
        location = self.location if self.source in ("file", "module") else self.source
        return f"{location}:{self.name}"

    def build(self, num_classes: int | None = None) -> nn.Module:
        """The model with fresh (random) weights, in eval mode."""
        kwargs = {} if num_classes is None else {"num_classes": num_classes}
        if self.source == "torchvision":
            model = torchvision.models.get_model(self.name, weights=None, **kwargs)
        elif self.source == "timm":
            import timm

            model = timm.create_model(self.name, pretrained=False, **kwargs)
        else:
            model = _call_factory(self._factory(), kwargs, str(self))
        return model.eval()

    def _factory(self) -> Any:
        if self.source == "file":
            module_spec = importlib.util.spec_from_file_location(
                f"_captum_contrastive_user_model_{Path(self.location).stem}",
                self.location,
            )
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(self.location)
        factory = getattr(module, self.name, None)
        if not callable(factory):
            raise ValueError(f"`model` {self}: {self.name!r} is not a callable there")
        return factory


def _call_factory(factory: Any, kwargs: dict[str, Any], name: str) -> nn.Module:
    if kwargs and "num_classes" not in inspect.signature(factory).parameters:
        raise ValueError(
            f"`num_classes` was given but the factory {name} takes no num_classes"
        )
    model = factory(**kwargs)
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"`model` {name} returned {type(model).__name__}, not an nn.Module"
        )
    return model


def load_weights_file(model: nn.Module, path: str | Path, name: str) -> None:
    """Load a local state dict into ``model``, strictly.

    Args:
        model (nn.Module): the built model.
        path (str or Path): a ``.pt``/``.pth`` file (``torch.save(state_dict)``,
            loaded with ``weights_only=True``) or a ``.safetensors`` file.
        name (str): the model's name, for error messages.
    """
    path = Path(path)
    if path.suffix not in WEIGHT_SUFFIXES:
        raise ValueError(f"`weights` {path} must end in one of {WEIGHT_SUFFIXES}")
    if path.suffix == ".safetensors":
        state_dict = _safetensors(path)
    else:
        state_dict = load_state_dict_file(path)
    _load_strict(model, state_dict, name, path)


def _safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise ValueError(
            f"`weights` {path} is a .safetensors file, which needs the safetensors "
            "package: pip install safetensors"
        ) from None
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return load_file(str(path))
