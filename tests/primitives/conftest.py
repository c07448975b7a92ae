"""One small fleet for the primitives tests."""

from __future__ import annotations

import pytest

from prefect_quantum.fleet import Fleet, FleetConfig


@pytest.fixture(scope="session")
def fez_fleet() -> Fleet:
    """ibm_fez alone (and the fleet's ideal simulator)."""
    return Fleet.from_config(FleetConfig(devices=("ibm_fez",)))
