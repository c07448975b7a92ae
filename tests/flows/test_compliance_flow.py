"""Compliance-restricted jobs never touch an unauthorized device, fallbacks included.

[C1]: a restricted job runs only on devices its domain authorizes; [C2]: it falls back only
to a simulator kind its domain authorizes, or fails with a ComplianceError saying why.
Checked with the in-process reserver and with the durable scheduler.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from prefect_quantum import hybrid_job
from prefect_quantum.blocks import QuantumFleet, QuantumScheduler
from prefect_quantum.errors import ComplianceError
from prefect_quantum.fleet import ComplianceRules, Fleet, FleetConfig
from prefect_quantum.reservation import Lease, LocalReserver, ReservationRequest

pytestmark = pytest.mark.usefixtures("prefect_api")

DEVICES = ("ibm_brussels", "ibm_fez", "ibm_kyiv")


def _fleet(fallbacks: dict[str, list[str]] | None = None) -> Fleet:
    rules = ComplianceRules.of({"fedramp": ["ibm_kyiv"]}, fallbacks)
    return Fleet.from_config(FleetConfig(devices=DEVICES), compliance=rules)


def _scheduler(tmp_path: Path, fallbacks: dict[str, list[str]]) -> QuantumScheduler:
    tmp_path.mkdir()
    return QuantumScheduler(
        store_url=SecretStr(f"sqlite:///{tmp_path / 'sched.db'}"),
        fleet_config=QuantumFleet(devices=list(DEVICES), compliance={"fedramp": ["ibm_kyiv"]},
                                  compliance_fallbacks=fallbacks),  # type: ignore[arg-type]
    )


def test_C1_restricted_job_runs_only_on_its_authorized_device() -> None:
    fleet = _fleet()
    result = hybrid_job(["ghz:3"], shots=300, fleet=fleet,
                        options={"compliance_domain": "fedramp"})
    assert {r["device"] for r in result.to_dicts()} == {"ibm_kyiv"}
    assert {r["device"] for r in result.device_runs.to_dicts()} == {"ibm_kyiv"}


def test_C1_allowed_devices_outside_the_domain_are_refused_before_any_task() -> None:
    with pytest.raises(ComplianceError, match=r"options\.devices"):
        hybrid_job(["ghz:3"], shots=300, fleet=_fleet(),
                   options={"compliance_domain": "fedramp", "devices": ["ibm_fez"]})
    with pytest.raises(ComplianceError, match=r"options\.compliance_domain"):
        hybrid_job(["ghz:3"], shots=300, fleet=_fleet(), options={"compliance_domain": "itar"})


@pytest.mark.parametrize("authorized", [[], ["ideal"]])
def test_C2_offline_device_and_no_authorized_noisy_fallback_fails_clearly(
    authorized: list[str],
) -> None:
    fleet = _fleet({"fedramp": authorized})
    fleet.get("ibm_kyiv").online = False
    with pytest.raises(ComplianceError, match="fedramp"):
        hybrid_job(["ghz:3"], shots=300, fleet=fleet,
                   options={"compliance_domain": "fedramp", "fallback": "noisy"})


def test_C2_offline_device_falls_back_to_the_authorized_simulator_kind() -> None:
    fleet = _fleet({"fedramp": ["ideal"]})
    fleet.get("ibm_kyiv").online = False
    result = hybrid_job(["ghz:3"], shots=300, fleet=fleet,
                        options={"compliance_domain": "fedramp", "fallback": "ideal"})
    row = result.to_dicts()[0]
    assert row["backend_kind"] == "simulator-fallback"
    assert row["raw_value"] == pytest.approx(1.0)  # the ideal simulator, as authorized


class _RogueReserver(LocalReserver):
    """Grants the first device of the fleet, whatever the job's domain."""

    def reserve(self, request: ReservationRequest) -> Lease:
        return Lease("rogue", request.job_id, "ibm_brussels", "qpu", tenant=request.tenant)


def test_C1_execute_rechecks_and_never_runs_on_a_device_granted_wrongly() -> None:
    fleet = _fleet()
    before = fleet.get("ibm_brussels").calibration.snapshot_id
    with pytest.raises(ComplianceError, match="does not authorize device 'ibm_brussels'"):
        hybrid_job(["ghz:3"], shots=300, fleet=fleet, reserver=_RogueReserver(),
                   options={"compliance_domain": "fedramp"})
    assert fleet.get("ibm_brussels").calibration.snapshot_id == before


def test_C2_scheduler_sends_a_restricted_job_only_to_an_authorized_fallback(
    tmp_path: Path,
) -> None:
    allowed = _scheduler(tmp_path / "a", {"fedramp": ["noisy"]})
    allowed.fleet.get("ibm_kyiv").online = False
    result = hybrid_job(["ghz:3"], shots=300, scheduler=allowed,
                        options={"compliance_domain": "fedramp"})
    assert result.to_dicts()[0]["backend_kind"] == "simulator-fallback"
    assert [r["simulator"] for r in allowed.store.queue(include_finished=True)] == [
        "simulator:local"
    ]

    refused = _scheduler(tmp_path / "b", {})
    refused.fleet.get("ibm_kyiv").online = False
    with pytest.raises(ComplianceError, match="fedramp"):
        hybrid_job(["ghz:3"], shots=300, scheduler=refused,
                   options={"compliance_domain": "fedramp", "max_wait_s": 0})
    assert [r["state"] for r in refused.store.queue(include_finished=True)] == ["rejected"]
