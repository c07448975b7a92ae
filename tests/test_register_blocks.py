"""`python blocks/register.py` registers the types and saves loadable documents."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from prefect_quantum.blocks import QuantumFleet, QuantumScheduler

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.usefixtures("prefect_api")
def test_register_saves_the_default_documents() -> None:
    spec = importlib.util.spec_from_file_location("register", ROOT / "blocks" / "register.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.register() == ["quantum-fleet/default", "quantum-scheduler/default"]
    scheduler = QuantumScheduler.load("default")
    assert scheduler.shares["chem-team"] == 2.0
    assert "ibm_kyiv" in scheduler.fleet_config.compliance["fedramp"]
    assert QuantumFleet.load("default").month == "03_2025"


def test_block_types_are_visible_to_prefect_block_register() -> None:
    import inspect

    from prefect.blocks.core import Block

    import prefect_quantum

    found = {name for name, obj in inspect.getmembers(prefect_quantum)
             if obj is not None and Block.is_block_class(obj)}
    assert {"QuantumFleet", "QuantumScheduler"} <= found
