"""Issue #7, item 5, in miniature (the full run is ``benchmarks/load.py``): jobs submitted
from two processes at once; all complete, no device is ever granted while leased, the
audit chain verifies."""

from __future__ import annotations

import load
import pytest

pytestmark = pytest.mark.slow


def test_200_jobs_from_two_processes_never_exceed_capacity(chaos_url: str) -> None:
    figures = load.run_load(chaos_url, jobs=200, processes=2, devices=4, in_flight=6)
    assert figures["completed"] == 200, figures
    assert figures["capacity_exceeded"] == 0, figures
    assert 1 <= figures["max_devices_busy"] <= 4, figures
    assert figures["leases_left"] == 0 and figures["audit_verified"], figures
    assert figures["throughput_jobs_s"] > 0 and figures["p99_submit_to_grant_ms"] is not None


def test_replay_counts_a_double_grant() -> None:
    granted = [
        {"kind": "granted", "device": "a", "detail": {"lease_id": "1"}},
        {"kind": "granted", "device": "a", "detail": {"lease_id": "2"}},  # still leased
        {"kind": "released", "device": "a", "detail": {"lease_id": "2"}},
        {"kind": "granted", "device": "z", "detail": {"lease_id": "3"}},  # unknown device
    ]
    assert load.replay_capacity(granted, {"a", "b"}) == (1, 2)
