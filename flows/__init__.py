"""The project's deployable flows. ``from flows import vqe, qaoa`` imports them lazily, so
loading another flow of this package does not import the variational stack."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["qaoa", "vqe"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(f"flows.{name}"), name)
    raise AttributeError(f"module 'flows' has no attribute {name!r}")
