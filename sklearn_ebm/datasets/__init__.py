"""Small real datasets that ship with the package."""

from ._loaders import load_breastw

__all__ = ["load_breastw"]
