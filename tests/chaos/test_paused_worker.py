"""A worker paused (SIGSTOP) mid-job while its job is run again elsewhere, then woken
(SIGCONT): the two runs share one lease (a re-run takes a crashed run's lease over), and
the job must still complete once: one run finishes, the other is refused ("already
completed") or loses the lease; never two completions, never shots counted twice."""

from __future__ import annotations

from pathlib import Path

import _chaos
import pytest

pytestmark = pytest.mark.slow


@pytest.mark.xfail(
    reason="known bug, not fixed: a re-run takes a live lease over without fencing the "
    "old holder (same lease id), so a paused worker that wakes during its last chunk "
    "releases 'again' silently and the job completes twice; needs a lease id rotated on "
    "takeover. Fails when the timing hits that window (1 run in 6 here).",
    strict=False,
)
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
