"""A worker paused (SIGSTOP) mid-job while its job is run again elsewhere, then woken
(SIGCONT). The re-run never shares the paused run's lease ([L6]): it waits until that
lease is released or expires. The job completes once: one run finishes, the other is
refused ("already completed") or loses its lease; never two completions, never shots
counted twice."""

from __future__ import annotations

from pathlib import Path

import _chaos
import pytest

pytestmark = pytest.mark.slow


def test_paused_worker_and_its_rerun_complete_the_job_once(tmp_path: Path) -> None:
    result = _chaos.paused_worker_run(f"sqlite:///{tmp_path / 'scheduler.db'}", tmp_path)
    outcomes = result["outcomes"]
    assert {o["worker"] for o in outcomes} == {"paused", "rerun"}, outcomes
    assert result["completed_runs"] == 1, outcomes
    assert result["completion_records"] == 1
    done = next(o for o in outcomes if o["ok"])
    assert done["counts_per_circuit"] == [200]
    other = next(o for o in outcomes if not o["ok"])
    assert "already completed" in other["error"] or "LeaseLostError" in other["error"], other
    # One release accepted for the one lease: charged once.
    assert len({r["lease_id"] for r in result["releases"]}) == len(result["releases"]) == 1
