"""The scheduled operations flows: calibration sweep and usage report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from prefect.events.worker import EventsWorker
from pydantic import SecretStr

from flows.calibration_sweep import calibration_sweep
from flows.usage_report import usage_report
from prefect_quantum import hybrid_job
from prefect_quantum.blocks import QuantumFleet, QuantumScheduler

pytestmark = pytest.mark.usefixtures("prefect_api")


def _scheduler(tmp_path: Path) -> QuantumScheduler:
    return QuantumScheduler(
        store_url=SecretStr(f"sqlite:///{tmp_path / 's.db'}"),
        fleet_config=QuantumFleet(devices=["ibm_brussels", "ibm_kyiv"]),
        calibration_managed=True,
    )


def test_sweep_marks_an_old_snapshot_stale_and_emits_the_event(
    tmp_path: Path, asserting_events_worker: EventsWorker
) -> None:
    from prefect_quantum.scheduler import device_states

    scheduler = _scheduler(tmp_path)
    states = device_states(scheduler.fleet, scheduler.calibration_max_age_s)
    old = [replace(s, calibration_age_s=3 * 86400.0) if s.name == "ibm_kyiv" else s
           for s in states]
    scheduler.store.register_devices(old)
    report = {r.device: r for r in calibration_sweep(refresh=False, scheduler=scheduler)}
    assert report["ibm_kyiv"].status == "stale"
    assert report["ibm_brussels"].status == "ok"
    assert report["ibm_kyiv"].previous_snapshot.startswith("ibm_kyiv@2025-02")  # type: ignore[union-attr]
    stored = {d.name: d for d in scheduler.store.devices()}
    assert not stored["ibm_kyiv"].calibration_ok
    asserting_events_worker.drain()
    events = [e.event for e in asserting_events_worker._client.events]  # type: ignore[attr-defined]
    assert "prefect-quantum.device.stale" in events
    # A job now avoids the stale device.
    result = hybrid_job(["ghz:3"], shots=200, scheduler=scheduler)
    assert result.to_dicts()[0]["device"] == "ibm_brussels"
    # With refresh, the sweep recalibrates it.
    again = {r.device: r for r in calibration_sweep(scheduler=scheduler)}
    assert again["ibm_kyiv"].status == "recalibrated"
    assert {d.name: d for d in scheduler.store.devices()}["ibm_kyiv"].calibration_ok


def test_usage_report_publishes_rows_and_a_plot(tmp_path: Path) -> None:
    scheduler = _scheduler(tmp_path)
    hybrid_job(["ghz:3"], shots=300, tenant="chem", scheduler=scheduler)
    hybrid_job(["bell"], shots=300, tenant="ml", scheduler=scheduler)
    report = usage_report(scheduler=scheduler, output_dir=str(tmp_path / "out"))
    tenants = {r["tenant"] for r in report["tenants"]}
    assert {"chem", "ml"} <= tenants
    assert report["audit_intact"] is True
    assert Path(report["plot"]).stat().st_size > 1000
