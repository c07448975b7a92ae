"""Mitigation helps, measured on a real-calibration fleet device (issue #2's criterion)."""

from __future__ import annotations

import statistics

import pytest
from qiskit import QuantumCircuit

from prefect_quantum import pipeline
from prefect_quantum.fleet import Fleet, FleetConfig
from prefect_quantum.job import JobRequest

DEVICE = "ibm_fez"


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet.from_config(FleetConfig(devices=(DEVICE,)))


def _mae(fleet: Fleet, specs: list, technique: str) -> float:  # type: ignore[type-arg]
    request = JobRequest.build(specs, 8000, mitigation=technique, options={"seed": 11})
    job = pipeline.prepare(request)
    qpu = fleet.get(DEVICE)
    compiled = pipeline.compile_for(job, [qpu])[DEVICE]
    execution = pipeline.run_batch(qpu, pipeline.build_batch(job, compiled), job)
    values = pipeline.mitigate(job, qpu, compiled, execution.counts)
    return statistics.fmean(abs(1.0 - v.mitigated_value) for v in values)  # ideal value 1


def test_zne_halves_the_error_of_ghz_and_hea(fleet: Fleet) -> None:
    specs = ["ghz:8", "hea:6:4", "hea:8:4"]
    assert _mae(fleet, specs, "none") >= 2 * _mae(fleet, specs, "zne")


def test_rem_halves_the_error_of_readout_dominated_circuits(fleet: Fleet) -> None:
    circuits = []
    for width in (3, 5):
        qc = QuantumCircuit(width, name=f"xs:{width}")
        for q in range(0, width, 2):
            qc.x(q)
        qc.measure_all()
        circuits.append(qc)
    assert _mae(fleet, circuits, "none") >= 2 * _mae(fleet, circuits, "rem")
