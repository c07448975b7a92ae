"""SimulatedQPU: Target routing, noise restriction, chunked execution, checkpoints."""

from __future__ import annotations

import json
import math
import time

import pytest
from fleet_circuits import ghz
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from prefect_quantum.errors import (
    CircuitTooWideError,
    DeviceOfflineError,
    InvalidInputError,
)
from prefect_quantum.fleet import (
    CalibratedBackend,
    Checkpoint,
    Fleet,
    Progress,
    SimulatedQPU,
    chunk_seed,
    load_calibration,
    measured_qubits,
    transpile_cache_clear,
    transpile_cache_info,
)
from prefect_quantum.fleet import device as device_module


@pytest.fixture(scope="module")
def strasbourg() -> SimulatedQPU:
    return SimulatedQPU(load_calibration("ibm_strasbourg"))


@pytest.fixture(scope="module")
def batch(strasbourg: SimulatedQPU) -> list[QuantumCircuit]:
    return strasbourg.transpile([ghz(3), ghz(4), ghz(5)], seed=7)


@pytest.mark.parametrize("device", ["ibm_strasbourg", "ibm_fez", "ibm_kawasaki"])
def test_transpiled_ghz5_uses_only_working_couplers(device: str) -> None:
    qpu = SimulatedQPU(load_calibration(device))
    (compiled,) = qpu.transpile([ghz(5)], seed=11)
    working = set(qpu.calibration.working_couplers)
    native = {"rz", "sx", "x", "id", qpu.calibration.two_qubit_gate, "measure", "barrier"}
    two_qubit = 0
    for instruction in compiled.data:
        assert instruction.operation.name in native
        qubits = tuple(compiled.find_bit(q).index for q in instruction.qubits)
        if instruction.operation.num_qubits == 2 and instruction.operation.name != "barrier":
            assert qubits in working
            two_qubit += 1
    assert two_qubit >= 4
    assert compiled.name == "ghz5" and compiled.num_clbits == 5
    assert sorted(measured_qubits(compiled)) == sorted(set(measured_qubits(compiled)))


def test_restricted_noise_gives_identical_counts_to_the_full_device_model(
    strasbourg: SimulatedQPU, batch: list[QuantumCircuit]
) -> None:
    seed, shots = 5, 2000
    ours = strasbourg.execute(batch, shots, seed=seed, chunk_shots=shots)
    full = strasbourg.noise_model()
    assert len(full.noise_qubits) == 127
    run = (
        AerSimulator(noise_model=full)
        .run(batch, shots=shots, seed_simulator=chunk_seed(seed, 0))
        .result()
    )
    assert [run.get_counts(i) for i in range(len(batch))] == ours.counts
    # ...and to plain Qiskit's AerSimulator.from_backend on the same Target.
    plain = AerSimulator.from_backend(CalibratedBackend(strasbourg.calibration, strasbourg.target))
    run = plain.run(batch, shots=shots, seed_simulator=chunk_seed(seed, 0)).result()
    assert [run.get_counts(i) for i in range(len(batch))] == ours.counts


def test_noise_model_has_asymmetric_readout(strasbourg: SimulatedQPU) -> None:
    errors = [e for e in strasbourg.noise_model([1]).to_dict()["errors"] if e["type"] == "roerror"]
    assert len(errors) == 1 and errors[0]["gate_qubits"] == [(1,)]
    p = errors[0]["probabilities"]
    assert p[0] == pytest.approx([1 - 0.2451171875, 0.2451171875])
    assert p[1] == pytest.approx([0.09033203125, 1 - 0.09033203125])


def test_idle_delay_relaxes_an_excited_qubit(strasbourg: SimulatedQPU) -> None:
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.delay(300, 0, unit="us")
    circuit.measure(0, 0)
    counts = strasbourg.execute([circuit], 2000, seed=1).counts[0]
    assert counts.get("0", 0) > 700  # T1 of qubit 0 is ~352 us: exp(-300/352) ~ 0.43 stay


def test_chunked_execution_does_all_shots_and_bills_the_clops_model(
    strasbourg: SimulatedQPU, batch: list[QuantumCircuit]
) -> None:
    run = strasbourg.execute(batch, 1000, seed=3, chunk_shots=300)
    assert (run.chunks, run.shots, run.shots_requested, run.stopped) == (4, 1000, 1000, False)
    assert all(sum(c.values()) == 1000 for c in run.counts)
    expected = 100 * 10 * 3000 * math.log2(128) / 220_000 / 60
    assert run.qpu_seconds == pytest.approx(expected)
    assert strasbourg.qpu_seconds(3000) == pytest.approx(expected)
    assert (run.device, run.snapshot_id) == (
        "ibm_strasbourg",
        "ibm_strasbourg@2025-03-29T05:16:26Z",
    )
    assert strasbourg.execute(batch, 1000, seed=3, chunk_shots=300).counts == run.counts


def test_stop_and_resume_reproduce_the_uninterrupted_counts(
    strasbourg: SimulatedQPU, batch: list[QuantumCircuit]
) -> None:
    whole = strasbourg.execute(batch, 1000, seed=9, chunk_shots=250)
    seen: list[Progress] = []

    def stop_after_two(progress: Progress) -> bool:
        seen.append(progress)
        return progress.chunk == 2

    part = strasbourg.execute(batch, 1000, seed=9, chunk_shots=250, should_stop=stop_after_two)
    assert part.stopped and part.shots == 500 and part.chunks == 2
    assert [p.shots_done for p in seen] == [250, 500]
    assert all(sum(c.values()) == 500 for c in part.counts)
    saved = json.loads(json.dumps(part.checkpoint().to_dict()))
    rest = strasbourg.execute(
        batch, 1000, seed=9, chunk_shots=250, resume=Checkpoint.from_dict(saved)
    )
    assert not rest.stopped and rest.chunks == 2
    assert rest.counts == whole.counts
    assert rest.qpu_seconds == pytest.approx(whole.qpu_seconds)
    assert all(sum(c.values()) == 1000 for c in rest.counts)


def test_offline_mid_run_raises_with_a_checkpoint(batch: list[QuantumCircuit]) -> None:
    qpu = SimulatedQPU(load_calibration("ibm_strasbourg"))
    whole = qpu.execute(batch, 900, seed=4, chunk_shots=300)

    def pull_the_plug(progress: Progress) -> bool:
        qpu.online = False
        return False

    with pytest.raises(DeviceOfflineError) as offline:
        qpu.execute(batch, 900, seed=4, chunk_shots=300, should_stop=pull_the_plug)
    checkpoint = offline.value.checkpoint  # type: ignore[attr-defined]
    assert checkpoint.shots_done == 300
    assert all(sum(c.values()) == 300 for c in checkpoint.counts)
    with pytest.raises(DeviceOfflineError) as still:
        qpu.execute(batch, 900, seed=4, chunk_shots=300, resume=checkpoint)
    assert still.value.checkpoint == checkpoint  # type: ignore[attr-defined]
    qpu.online = True
    assert (
        qpu.execute(batch, 900, seed=4, chunk_shots=300, resume=checkpoint).counts == whole.counts
    )


def test_scheduled_outage_fires_between_chunks(batch: list[QuantumCircuit]) -> None:
    qpu = SimulatedQPU(load_calibration("ibm_strasbourg"))
    qpu.schedule_outage(after_chunks=2)
    with pytest.raises(DeviceOfflineError) as offline:
        qpu.execute(batch, 1000, seed=4, chunk_shots=250)
    assert offline.value.checkpoint.shots_done == 500  # type: ignore[attr-defined]
    assert not qpu.online
    assert qpu.drain_outage_notes() == ["went offline mid-job after 500 shots"]


def test_transpile_cache_hits_without_retranspiling(
    strasbourg: SimulatedQPU, monkeypatch: pytest.MonkeyPatch
) -> None:
    transpile_cache_clear()
    calls: list[int] = []
    real = device_module.qiskit_transpile

    def counting(circuits, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(circuits))
        return real(circuits, **kwargs)

    monkeypatch.setattr(device_module, "qiskit_transpile", counting)
    first = strasbourg.transpile([ghz(3), ghz(4)], seed=1)
    again = strasbourg.transpile([ghz(3), ghz(4), ghz(6)], seed=1)
    assert calls == [2, 1]
    info = transpile_cache_info()
    assert (info.hits, info.misses, info.currsize) == (2, 3, 3)
    assert [c.name for c in again] == ["ghz3", "ghz4", "ghz6"]
    assert again[0] == first[0] and again[0] is not first[0]
    strasbourg.transpile([ghz(3)], seed=2)  # another seed is another entry
    assert calls == [2, 1, 1]


def test_ideal_simulator_accepts_circuits_for_any_device(fleet: Fleet) -> None:
    ideal = fleet.ideal_simulator()
    assert ideal.kind == "simulator" and ideal.num_qubits == 156
    for name in ("ibm_strasbourg", "ibm_fez"):
        compiled = fleet.get(name).transpile([ghz(4)], seed=3)
        run = ideal.execute(compiled, 500, seed=1)
        assert set(run.counts[0]) <= {"0000", "1111"} and run.snapshot_id == "ideal"


def test_last_good_simulator_runs_while_the_device_is_offline(fleet: Fleet) -> None:
    qpu = fleet.get("ibm_kyiv")
    compiled = qpu.transpile([ghz(3)], seed=3)
    qpu.online = False
    simulator = fleet.last_good_simulator("kyiv")
    assert simulator.kind == "simulator" and simulator.fingerprint == qpu.fingerprint
    assert simulator.execute(compiled, 200, seed=1).device == "simulator:ibm_kyiv"
    with pytest.raises(InvalidInputError):
        simulator.online = False
    with pytest.raises(DeviceOfflineError):
        qpu.execute(compiled, 200, seed=1)


def test_time_scale_sleeps_simulated_qpu_time() -> None:
    qpu = SimulatedQPU(load_calibration("ibm_kyiv"), time_scale=0.1)
    compiled = qpu.transpile([ghz(2)], seed=1)
    start = time.perf_counter()
    run = qpu.execute(compiled, 100, seed=1)
    assert time.perf_counter() - start >= 0.1 * run.qpu_seconds
    assert run.qpu_seconds == pytest.approx(1000 * 100 * 7 / 30_000 / 60)


def test_measured_qubits_maps_clbits_to_physical_qubits() -> None:
    circuit = QuantumCircuit(5, 3)
    circuit.measure(4, 0)
    circuit.measure(2, 2)
    assert measured_qubits(circuit) == [4, -1, 2]


def test_bad_inputs_name_the_field(strasbourg: SimulatedQPU, batch: list[QuantumCircuit]) -> None:
    def field(call) -> str:  # type: ignore[no-untyped-def]
        with pytest.raises(InvalidInputError) as error:
            call()
        return error.value.field

    assert field(lambda: strasbourg.execute(batch, 0, seed=1)) == "shots"
    assert field(lambda: strasbourg.execute(batch, 10, seed=1, chunk_shots=0)) == "chunk_shots"
    assert field(lambda: strasbourg.execute([], 10, seed=1)) == "circuits"
    assert field(lambda: strasbourg.transpile([ghz(3)], seed=1, optimization_level=7)) == (
        "optimization_level"
    )
    wide = QuantumCircuit(130, 1)
    wide.measure(129, 0)
    with pytest.raises(CircuitTooWideError):
        strasbourg.execute([wide], 10, seed=1)
    with pytest.raises(CircuitTooWideError):
        strasbourg.transpile([wide], seed=1)
    logical = ghz(3)  # h and cx are not native
    assert field(lambda: strasbourg.execute([logical], 10, seed=1)) == "circuits"
    broken = next(p for p, (e, _) in strasbourg.calibration.couplers.items() if e >= 1)
    on_broken = QuantumCircuit(127, 1)
    on_broken.ecr(*broken)
    on_broken.measure(broken[0], 0)
    assert field(lambda: strasbourg.execute([on_broken], 10, seed=1)) == "circuits"
    silent = QuantumCircuit(1)
    silent.x(0)
    assert field(lambda: strasbourg.execute([silent], 10, seed=1)) == "circuits"
    mismatched = Checkpoint(10, ({"0": 10},), 0.0)
    assert field(lambda: strasbourg.execute(batch, 100, seed=1, resume=mismatched)) == "resume"
    assert field(lambda: Checkpoint.from_dict({"shots_done": 1})) == "checkpoint"
    cal = strasbourg.calibration
    assert field(lambda: SimulatedQPU(cal, kind="cloud")) == "kind"  # type: ignore[arg-type]
    assert field(lambda: SimulatedQPU(cal, time_scale=-1)) == "time_scale"
    assert field(lambda: strasbourg.qpu_seconds(-1)) == "circuit_shots"
