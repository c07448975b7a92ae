"""End to end: the hybrid_job flow under a Prefect test harness."""

from __future__ import annotations

import pytest
from qiskit import QuantumCircuit

from prefect_quantum import hybrid_job
from prefect_quantum.errors import CircuitTooWideError, InvalidInputError, UnknownDeviceError
from prefect_quantum.fleet import Fleet, FleetConfig
from prefect_quantum.results import ROW_SCHEMA

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet.from_config(FleetConfig(devices=("ibm_brussels", "ibm_torino", "ibm_kyiv")))


def test_runs_builtins_qasm_and_circuits_with_zne(fleet: Fleet) -> None:
    qc = QuantumCircuit(2, name="mine")
    qc.x(0)
    qc.cx(0, 1)
    result = hybrid_job(
        ["ghz:3", "examples/circuits/bell.qasm", qc], shots=2000, mitigation="zne", fleet=fleet
    )
    rows = result.to_dicts()
    assert [r["circuit"] for r in rows] == ["ghz:3", "bell.qasm", "mine"]
    assert list(result.rows.columns) == list(ROW_SCHEMA)
    for row in rows:
        assert row["backend_kind"] == "qpu"
        assert row["device"] in fleet.devices
        assert row["shots"] == 2000
        assert row["calibration_snapshot"].startswith(row["device"])
        assert 0.5 < row["raw_value"] < 1.0  # noisy, yet mostly right
        assert row["stderr"] > 0
        assert row["job_id"] == result.job_id
        assert 0 < row["estimated_fidelity"] <= 1
    runs = result.device_runs.to_dicts()
    assert len(runs) == 1 and runs[0]["status"] == "completed"
    assert runs[0]["circuits_executed"] == 3 * 3  # three circuits at three scale factors


def test_observable_expectation(fleet: Fleet) -> None:
    result = hybrid_job(["bell"], shots=4000, observables="ZZ", fleet=fleet)
    row = result.to_dicts()[0]
    assert row["observable"] == "ZZ"
    assert 0.8 < row["raw_value"] <= 1.0


def test_offline_device_is_filtered_and_job_falls_back_when_none_is_left() -> None:
    small = Fleet.from_config(FleetConfig(devices=("ibm_brussels",)))
    small.get("ibm_brussels").online = False
    result = hybrid_job(["ghz:3"], shots=500, fleet=small)
    row = result.to_dicts()[0]
    assert row["backend_kind"] == "simulator-fallback"
    assert "offline" in row["fallback_reason"]


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"circuits": ["ghz:150"]}, CircuitTooWideError),
        ({"circuits": ["ghz:3"], "shots": 0}, InvalidInputError),
        ({"circuits": ["nosuch:3"]}, InvalidInputError),
        ({"circuits": ["ghz:3"], "options": {"devices": ("ibm_nowhere",)}}, UnknownDeviceError),
    ],
)
def test_bad_input_fails_the_flow_before_any_task(fleet: Fleet, kwargs: dict, error: type) -> None:  # type: ignore[type-arg]
    state = hybrid_job(**kwargs, fleet=fleet, return_state=True)
    assert state.is_failed()
    with pytest.raises(error):
        state.result()


def test_execution_publishes_a_progress_artifact_that_reaches_100(fleet: Fleet) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from prefect_quantum import progress

    seen: list[tuple[int, int]] = []
    with progress.listening(lambda job, done, total: seen.append((done, total))):
        state = hybrid_job(["ghz:3"], shots=2000, fleet=fleet,
                           options={"chunk_shots": 500}, return_state=True)
    assert seen == [(500, 2000), (1000, 2000), (1500, 2000), (2000, 2000)]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    progress_artifacts = [a for a in artifacts if a.type == "progress"]
    assert progress_artifacts and progress_artifacts[0].data == 100.0
