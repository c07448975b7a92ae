"""Fixtures of the fleet tests (calibrations and noise are cached process-wide)."""

from __future__ import annotations

import pytest

from prefect_quantum.fleet import Fleet


@pytest.fixture
def fleet() -> Fleet:
    """A fresh default fleet (tests may take devices offline or recalibrate them)."""
    return Fleet.default()
