"""The package's version (also in ``setup.cfg``), importable from any layer."""

__all__ = ["__version__"]

__version__ = "0.1.0"
