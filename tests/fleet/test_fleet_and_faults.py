"""The fleet, its configuration, the fault model, and the layer rule."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from fleet_circuits import ghz

from prefect_quantum.errors import DeviceOfflineError, InvalidInputError, UnknownDeviceError
from prefect_quantum.fleet import (
    FaultEvent,
    FaultModel,
    Fleet,
    FleetConfig,
    drift_calibration,
    load_calibration,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_default_fleet_is_heterogeneous(fleet: Fleet) -> None:
    devices = list(fleet.devices.values())
    assert len(devices) >= 5
    assert len({d.calibration.clops for d in devices}) >= 2
    assert len({d.num_qubits for d in devices}) >= 2
    assert {d.calibration.two_qubit_gate for d in devices} == {"ecr", "cz"}
    assert all(d.kind == "qpu" and d.online for d in devices)
    assert all(d.calibration.timestamp.month == 3 for d in devices)


def test_get_and_online(fleet: Fleet) -> None:
    assert fleet.get("fez") is fleet.get("ibm_fez")
    with pytest.raises(UnknownDeviceError) as unknown:
        fleet.get("ibm_brisbane")
    assert unknown.value.field == "device"
    assert "ibm_strasbourg" in str(unknown.value)
    fleet.get("ibm_kyiv").online = False
    assert "ibm_kyiv" not in {d.name for d in fleet.online()}


def test_config_picks_devices_month_and_time_scale() -> None:
    fleet = Fleet.from_config(
        FleetConfig(devices=("brisbane", "ibm_marrakesh"), month="01_2025", time_scale=0.5)
    )
    assert list(fleet.devices) == ["ibm_brisbane", "ibm_marrakesh"]
    assert all(
        d.calibration.timestamp.month == 1 and d.time_scale == 0.5 for d in fleet.devices.values()
    )
    with pytest.raises(UnknownDeviceError):
        Fleet.from_config(FleetConfig(devices=("ibm_nowhere",)))
    with pytest.raises(InvalidInputError) as bad_month:
        Fleet.from_config(FleetConfig(month="12_2024"))
    assert bad_month.value.field == "month"


def _run(seed: int, steps: int = 12) -> tuple[list[list[FaultEvent]], list[str]]:
    fleet = Fleet.default()
    model = FaultModel(
        seed,
        offline_probability=0.3,
        drift_scale=0.2,
        offline_mid_job_probability=0.3,
        drift_probability=0.3,
    )
    events = [model.step(fleet, NOW + timedelta(hours=i)) for i in range(steps)]
    return events, [d.calibration.snapshot_id for d in fleet.devices.values()]


def test_fault_model_is_reproducible_for_a_seed() -> None:
    first, second, other = _run(42), _run(42), _run(43)
    assert first == second
    assert first != other
    kinds = {e.kind for step in first[0] for e in step}
    assert kinds == {"offline", "online", "drift"}


def test_drift_scales_errors_and_makes_a_new_snapshot(fleet: Fleet) -> None:
    qpu = fleet.get("ibm_brussels")
    before, fingerprint = qpu.calibration, qpu.fingerprint
    events = FaultModel(1, drift_scale=0.3, drift_probability=1.0).step(fleet, NOW)
    drift = next(e for e in events if e.device == "ibm_brussels")
    after = qpu.calibration
    assert drift.kind == "drift" and after.snapshot_id in drift.detail
    assert after.snapshot_id.startswith(before.snapshot_id + "+drift")
    assert qpu.calibrated_at == NOW and qpu.fingerprint != fingerprint
    pairs = zip(after.qubits, before.qubits, strict=True)
    ratios = np.array([a.sx_error / b.sx_error for a, b in pairs])
    assert np.std(np.log(ratios)) == pytest.approx(0.3, rel=0.3)
    broken = [p for p, (e, _) in before.couplers.items() if e >= 1]
    assert all(after.couplers[p][0] == 1.0 for p in broken)
    assert qpu.transpile([ghz(3)], seed=1)  # the drifted Target still compiles


def test_drift_calibration_is_seeded() -> None:
    cal = load_calibration("ibm_kyiv")

    def drifted(seed: int) -> float:
        rng = np.random.default_rng(seed)
        return drift_calibration(cal, rng, 0.1, "x", NOW).error_score

    assert drifted(1) == drifted(1) != drifted(2)


def test_advance_moves_to_the_next_real_snapshot() -> None:
    fleet = Fleet.from_config(FleetConfig(devices=("ibm_fez",), month="01_2025"))
    qpu = fleet.get("fez")
    assert qpu.calibration.snapshot_id == "ibm_fez@2025-01-27T02:38:59Z"
    event = FaultModel.advance(qpu, NOW)
    assert event is not None and event.kind == "drift"
    assert qpu.calibration.snapshot_id == "ibm_fez@2025-02-13T22:03:26Z"
    FaultModel.advance(qpu, NOW)
    assert FaultModel.advance(qpu, NOW) is None  # March is the latest


def test_mid_job_outage_keeps_the_shots_and_is_reported(fleet: Fleet) -> None:
    model = FaultModel(7, offline_mid_job_probability=1.0, recovery_probability=1.0)
    assert model.step(fleet, NOW) == []  # arms every device, nothing happened yet
    qpu = fleet.get("ibm_kawasaki")
    compiled = qpu.transpile([ghz(3)], seed=1)
    with pytest.raises(DeviceOfflineError) as offline:
        qpu.execute(compiled, 2000, seed=1, chunk_shots=500)
    assert 500 <= offline.value.checkpoint.shots_done <= 1500  # type: ignore[attr-defined]
    events = model.step(fleet, NOW + timedelta(minutes=1))
    assert (
        FaultEvent(
            "offline",
            "ibm_kawasaki",
            f"went offline mid-job after {offline.value.checkpoint.shots_done} shots",  # type: ignore[attr-defined]
        )
        in events
    )
    assert not qpu.online
    model.step(fleet, NOW + timedelta(minutes=2))
    assert qpu.online  # recovery_probability=1


def test_fault_model_rejects_bad_parameters() -> None:
    with pytest.raises(InvalidInputError) as bad:
        FaultModel(1, offline_probability=1.5)
    assert bad.value.field == "offline_probability"
    with pytest.raises(InvalidInputError):
        FaultModel(-1)


def test_fleet_layer_imports_neither_prefect_nor_other_layers() -> None:
    code = (
        "import sys, prefect_quantum.fleet\n"
        "bad = [m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')\n"
        "       or (m.startswith('prefect_quantum.') and m.split('.')[1] not in\n"
        "           ('fleet', 'errors'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
