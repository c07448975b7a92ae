"""QuantumEstimator: values, broadcasting, compile-once, one batch per run, metadata, jobs."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.circuit import Parameter, QuantumCircuit
from qiskit.circuit.library import real_amplitudes
from qiskit.primitives import StatevectorEstimator
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp

from prefect_quantum.fleet import Fleet, transpile_cache_info
from prefect_quantum.primitives import PrimitiveOptions, QuantumEstimator

H = SparsePauliOp.from_list([("XYZ", 0.7), ("ZZI", -0.4), ("IXX", 0.3), ("YII", 0.2),
                             ("III", 0.1)])


def _exact(circuit: QuantumCircuit, op: SparsePauliOp, x: np.ndarray) -> np.ndarray:
    return np.asarray(StatevectorEstimator().run([(circuit, op, x)]).result()[0].data.evs)


def test_values_in_every_basis_match_the_statevector(fez_fleet: Fleet) -> None:
    ansatz = real_amplitudes(3, reps=1)
    ansatz.rz(Parameter("z"), 1)  # complex amplitudes, so Y terms are non-zero
    x = np.random.default_rng(3).uniform(-2, 2, (4, ansatz.num_parameters))
    with QuantumEstimator(fleet=fez_fleet, device="ideal", seed=5) as est:
        pub = est.run([(ansatz, H, x)], precision=0.01).result()[0]
    exact = _exact(ansatz, H, x)
    assert pub.data.evs.shape == (4,)
    assert np.all(np.abs(pub.data.evs - exact) < 5 * pub.data.stds + 1e-9)
    assert np.all(pub.data.stds < 0.01)  # shot noise within the asked precision
    assert pub.metadata["shots"] == 10_000
    assert pub.metadata["measurement_groups"] == 3  # XYZ; ZZI; IXX with YII


def test_precision_zero_is_exact_on_the_ideal_simulator_only(fez_fleet: Fleet) -> None:
    ansatz = real_amplitudes(3, reps=1)
    x = np.linspace(0, 1, ansatz.num_parameters)
    with QuantumEstimator(fleet=fez_fleet, device="ideal", default_precision=0.0) as est:
        pub = est.run([(ansatz, H, x)]).result()[0]
    assert pub.data.evs == pytest.approx(_exact(ansatz, H, x), abs=1e-12)
    assert pub.metadata["exact"] and pub.data.stds == 0
    with QuantumEstimator(fleet=fez_fleet, device="ibm_fez") as est, pytest.raises(
        ValueError, match="exact"
    ):
        est.run([(ansatz, H, x)], precision=0).result()


def test_broadcasting_and_several_pubs_share_one_execute(
    fez_fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    ideal = fez_fleet.ideal_simulator()
    calls: list[int] = []
    original = ideal.execute

    def counting(circuits, shots, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(circuits))
        return original(circuits, shots, **kwargs)

    monkeypatch.setattr(ideal, "execute", counting)
    ansatz = real_amplitudes(2, reps=1)
    params = np.random.default_rng(0).uniform(-1, 1, (3, ansatz.num_parameters))
    observables = [[SparsePauliOp("ZZ")], [SparsePauliOp.from_list([("XI", 1), ("IX", 2)])]]
    with QuantumEstimator(fleet=fez_fleet, device="ideal") as est:
        result = est.run([(ansatz, observables, params), (ansatz, "ZI", params[0])]).result()
    assert result[0].data.evs.shape == (2, 3)  # (2, 1) observables x (3,) parameters
    assert result[1].data.evs.shape == ()
    # ZZ and XX-basis groups for 3 parameter sets, plus Z on the one set of the second pub
    assert calls == [3 * 2 + 1]
    exact = np.stack([_exact(ansatz, o[0], params) for o in observables])
    assert np.all(np.abs(result[0].data.evs - exact) < 5 * result[0].data.stds + 1e-9)


def test_compiles_once_and_binds_per_run(fez_fleet: Fleet) -> None:
    ansatz = real_amplitudes(3, reps=2)
    rng = np.random.default_rng(1)
    with QuantumEstimator(fleet=fez_fleet, device="ibm_fez", mitigation="zne") as est:
        est.run([(ansatz, H, rng.uniform(size=ansatz.num_parameters))]).result()
        builds, misses = est.runtime.cache.builds, transpile_cache_info().misses
        for _ in range(3):
            est.run([(ansatz, H, rng.uniform(size=ansatz.num_parameters))]).result()
        assert est.runtime.cache.builds == builds  # body, measurement and folds reused
        assert transpile_cache_info().misses == misses  # never transpiled again


def test_metadata_and_mitigation_values(fez_fleet: Fleet) -> None:
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    op = SparsePauliOp.from_list([("ZZI", 1.0), ("IZZ", 1.0)])  # 2 on the GHZ state
    values = {}
    for technique in ("none", "rem", "zne+rem"):
        with QuantumEstimator(fleet=fez_fleet, device="ibm_fez", mitigation=technique) as est:
            result = est.run([(circuit, op)], precision=0.004).result()
        meta = result.metadata
        assert meta["device"] == "ibm_fez" and meta["backend_kind"] == "qpu"
        assert meta["calibration_snapshot"] == fez_fleet.get("ibm_fez").snapshot_id
        assert meta["mitigation"] == technique
        values[technique] = float(result[0].data.evs)
        assert float(result[0].data.raw_evs) == pytest.approx(values["none"], abs=0.05)
    assert abs(values["rem"] - 2) < abs(values["none"] - 2)
    assert abs(values["zne+rem"] - 2) < abs(values["none"] - 2)


def test_job_object_and_options(fez_fleet: Fleet) -> None:
    options = PrimitiveOptions(fleet=fez_fleet, device="ideal", default_precision=0.05)
    est = QuantumEstimator(options, seed=9)
    assert est.options.seed == 9 and est.options.default_precision == 0.05
    job = est.run([(real_amplitudes(2, reps=1), "ZZ", [0.1, 0.2, 0.3, 0.4])])
    result = job.result()
    assert job.done() and job.status() == JobStatus.DONE and job.in_final_state()
    assert result[0].metadata["shots"] == 400
    failing = est.run([(QuantumCircuit(2), "ZZ")], precision=0.0 + 1e-9)  # 1e18 shots
    with pytest.raises(ValueError):
        failing.result()
    assert failing.status() == JobStatus.ERROR
    est.close()
    with pytest.raises(RuntimeError):
        est.run([(QuantumCircuit(1), "Z")])
    with pytest.raises(TypeError):
        QuantumEstimator(bogus=1)


def test_same_seed_reproduces_a_sequence_of_runs(fez_fleet: Fleet) -> None:
    ansatz = real_amplitudes(2, reps=1)
    x = [0.3, 0.1, -0.2, 0.5]

    def sequence() -> list[float]:
        with QuantumEstimator(fleet=fez_fleet, device="ibm_fez", seed=42) as est:
            return [float(est.run([(ansatz, "XX", x)]).result()[0].data.evs) for _ in range(2)]

    first = sequence()
    assert first == sequence()
    assert first[0] != first[1]  # each run draws its own shots
