"""Issue #7, item 1, the Prefect path: real ``hybrid_job`` flow runs through the scheduler
store while the Prefect API answers 503 for a while and devices go offline mid-job. The
runs ride out the 503s on the Prefect client's retries and the device faults on the
task retries and fallback; the store's invariants hold as for the direct path."""

from __future__ import annotations

from pathlib import Path

import _chaos
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


def test_flow_runs_survive_api_503_and_device_outages(tmp_path: Path) -> None:
    run = _chaos.run_flow_jobs(f"sqlite:///{tmp_path / 'scheduler.db'}", 12, seed=11)
    verdict = _chaos.verify(run)
    report = _chaos.summary(run, verdict)
    errors = [o.error for o in run.outcomes if not o.ok]
    assert errors == [], report
    assert verdict.violations == [], report
    assert run.faults["api_503_window"] >= 2 and run.faults["api_503_responses"] >= 2, report
    assert run.faults["device_outage_mid_job"] >= 3
    assert verdict.completed_on_qpu + verdict.completed_on_fallback == 12, report
    assert verdict.shots_lost == 0 and verdict.jobs_duplicated == 0
    # A device that went offline mid-job made its run fail over (another device or the
    # declared fallback), not fail.
    assert any("offline" in r for o in run.outcomes for r in o.runs), report
