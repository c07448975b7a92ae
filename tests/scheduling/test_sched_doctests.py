"""The examples in the scheduling package's docstrings run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import prefect_quantum.scheduling as scheduling

MODULES = ["prefect_quantum.scheduling"] + [
    f"prefect_quantum.scheduling.{m.name}" for m in pkgutil.iter_modules(scheduling.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
