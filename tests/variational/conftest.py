"""A small fleet, a scheduler factory, and the repository root on sys.path (for flows/)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from prefect_quantum.blocks import QuantumFleet, QuantumScheduler
from prefect_quantum.fleet import Fleet, FleetConfig

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def fez_fleet() -> Fleet:
    """ibm_fez alone (and the fleet's ideal simulator)."""
    return Fleet.from_config(FleetConfig(devices=("ibm_fez",)))


def make_scheduler(tmp_path: Path, devices: list[str], **policy: object) -> QuantumScheduler:
    """A scheduler block on a fresh SQLite store in ``tmp_path``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    return QuantumScheduler(
        store_url=SecretStr(f"sqlite:///{tmp_path / 'sched.db'}"),
        fleet_config=QuantumFleet(devices=devices),
        **policy,  # type: ignore[arg-type]
    )
