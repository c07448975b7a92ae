"""REM: inverting a device's own asymmetric per-qubit readout errors."""

from __future__ import annotations

import time
from functools import reduce

import numpy as np
import pytest
from mitiq.rem.inverse_confusion_matrix import closest_positive_distribution
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.mitigation.rem import (
    closest_probabilities,
    combine_results,
    confusion_matrices,
    construct_circuits,
)
from prefect_quantum.observables import MeasurementPlan, plan_measurements


def _noisy_distribution(ideal: dict[str, float], confusion: list[np.ndarray]) -> dict[str, float]:
    """Exact readout-corrupted distribution; ``confusion[i]`` acts on clbit ``i``."""
    n = len(confusion)
    vector = np.zeros(2**n)
    for key, p in ideal.items():
        vector[int(key, 2)] = p
    full = reduce(np.kron, confusion[::-1])  # clbit n-1 is the leftmost character
    noisy = full @ vector
    return {format(i, f"0{n}b"): float(p) for i, p in enumerate(noisy) if p > 0}


def _sampled_counts(
    ideal_bits: np.ndarray, p10: np.ndarray, p01: np.ndarray, rng: np.random.Generator
) -> dict[str, int]:
    """Counts after flipping each shot's bits (column i = clbit i) with the readout error."""
    flip = np.where(ideal_bits == 0, rng.random(ideal_bits.shape) < p10, 0)
    drop = np.where(ideal_bits == 1, rng.random(ideal_bits.shape) < p01, 0)
    bits = ideal_bits ^ flip ^ drop
    keys, counts = np.unique(["".join(map(str, row[::-1])) for row in bits], return_counts=True)
    return {str(k): int(c) for k, c in zip(keys, counts, strict=True)}


def test_confusion_matrix_columns_are_prepared_states() -> None:
    (c,) = confusion_matrices([0.02], [0.07])
    assert c == pytest.approx(np.array([[0.98, 0.07], [0.02, 0.93]]))
    assert c.sum(axis=0) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize(
    ("p10", "p01", "field"),
    [
        ([0.01, 0.02], [0.01], "prob_meas0_prep1"),
        ([1.2], [0.01], "prob_meas1_prep0"),
        ([0.01], [-0.1], "prob_meas0_prep1"),
        ([0.6], [0.5], "prob_meas1_prep0"),  # not invertible
    ],
)
def test_confusion_validation(p10: list[float], p01: list[float], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        confusion_matrices(p10, p01)
    assert err.value.field == field


def test_construct_adds_no_circuits() -> None:
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    assert construct_circuits([qc, qc]) == [qc, qc]


@pytest.mark.parametrize("max_dense_bits", [0, 12], ids=["tensored", "dense"])
def test_known_asymmetric_confusion_is_inverted_exactly(max_dense_bits: int) -> None:
    confusion = confusion_matrices([0.01, 0.04, 0.10], [0.15, 0.03, 0.02])
    ideal = {"100": 0.6, "011": 0.3, "000": 0.1}
    noisy = _noisy_distribution(ideal, confusion)
    mitigated = combine_results(noisy, confusion, max_dense_bits=max_dense_bits)
    for key in {*ideal, *mitigated}:
        assert mitigated.get(key, 0.0) == pytest.approx(ideal.get(key, 0.0), abs=1e-9)
    # The clbit order matters: the same counts under reversed calibrations are not ideal.
    wrong = combine_results(noisy, confusion[::-1], max_dense_bits=max_dense_bits)
    assert max(abs(wrong.get(k, 0.0) - ideal.get(k, 0.0)) for k in wrong) > 0.05


def test_tensored_path_agrees_with_mitiq_full_matrix_on_ten_bits() -> None:
    rng = np.random.default_rng(3)
    n = 10
    p10, p01 = rng.uniform(0.005, 0.03, n), rng.uniform(0.01, 0.06, n)
    confusion = confusion_matrices(p10, p01)
    ideal_bits = np.repeat(rng.integers(0, 2, (4000, 1)), n, axis=1)
    counts = _sampled_counts(ideal_bits, p10, p01, rng)
    dense = combine_results(counts, confusion, max_dense_bits=12)
    tensored = combine_results(counts, confusion, max_dense_bits=0)
    assert len(dense) == 2**n
    for key, value in dense.items():
        # Entries below 1e-4 of one shot's weight are pruned from the tensored result.
        assert tensored.get(key, 0.0) == pytest.approx(value, abs=1e-4 / 4000)
    for key, value in tensored.items():
        assert dense[key] == pytest.approx(value, abs=1e-12)
    assert sum(dense.values()) == pytest.approx(1.0)


def test_twenty_bits_stay_cheap_and_recover_ghz() -> None:
    rng = np.random.default_rng(5)
    n = 20
    p10, p01 = rng.uniform(0.005, 0.03, n), rng.uniform(0.01, 0.06, n)
    ideal_bits = np.repeat(rng.integers(0, 2, (4000, 1)), n, axis=1)
    counts = _sampled_counts(ideal_bits, p10, p01, rng)
    raw = (counts.get("0" * n, 0) + counts.get("1" * n, 0)) / 4000
    start = time.perf_counter()
    mitigated = combine_results(counts, confusion_matrices(p10, p01))
    assert time.perf_counter() - start < 2.0  # ~0.06 s measured
    assert len(mitigated) < 2**20 // 10  # pruned below 1e-4 of one shot
    assert sum(mitigated.values()) == pytest.approx(1.0, abs=1e-3)
    recovered = mitigated["0" * n] + mitigated["1" * n]
    assert raw < 0.7
    assert recovered == pytest.approx(1.0, abs=0.03)


def test_too_many_bits_and_mismatched_inputs_are_rejected() -> None:
    with pytest.raises(InvalidInputError) as err:
        combine_results({"0" * 25: 10}, confusion_matrices([0.01] * 25, [0.01] * 25))
    assert err.value.field == "counts"
    with pytest.raises(InvalidInputError) as err:
        combine_results({"01": 10}, confusion_matrices([0.01], [0.01]))
    assert err.value.field == "confusion"
    with pytest.raises(InvalidInputError):
        combine_results({"01": 10, "1": 3}, confusion_matrices([0.01] * 2, [0.01] * 2))


def test_register_spaces_are_ignored() -> None:
    confusion = confusion_matrices([0.0, 0.0], [0.0, 0.0])
    assert combine_results({"1 0": 3, "0 1": 1}, confusion) == {"10": 0.75, "01": 0.25}


def test_closest_probabilities_matches_mitiq() -> None:
    quasi = {"00": 0.7, "01": -0.05, "10": 0.25, "11": 0.1}
    ours = closest_probabilities(quasi)
    theirs = closest_positive_distribution(np.array(list(quasi.values())))
    for key, value in zip(quasi, theirs, strict=True):
        assert ours.get(key, 0.0) == pytest.approx(value, abs=1e-4)
    assert sum(ours.values()) == pytest.approx(1.0)
    assert min(ours.values()) > 0


def _plan_counts(
    plan: MeasurementPlan, rng: np.random.Generator, confusion: list[np.ndarray], shots: int
) -> list[dict[str, int]]:
    """Counts for each plan circuit: exact probabilities, readout-corrupted, sampled."""
    counts = []
    for circuit in plan.circuits:
        body = circuit.remove_final_measurements(inplace=False)
        ideal = Statevector(body).probabilities_dict(qargs=list(range(circuit.num_clbits)))
        noisy = _noisy_distribution(ideal, confusion[: circuit.num_clbits])
        keys = list(noisy)
        p = np.array([noisy[k] for k in keys])
        sample = rng.multinomial(shots, p / p.sum())
        counts.append({k: int(c) for k, c in zip(keys, sample, strict=True) if c})
    return counts


@pytest.mark.parametrize("observable", [None, "ZZIZ", "XIYZ"])
def test_plan_value_with_confusion_equals_rem_quasi_probabilities(observable: str | None) -> None:
    rng = np.random.default_rng(9)
    qc = QuantumCircuit(4)
    qc.h(0)
    for i in range(3):
        qc.cx(i, i + 1)
    qc.ry(0.3, 2)
    plan = plan_measurements(qc, observable)
    confusion = confusion_matrices([0.02, 0.05, 0.01, 0.03], [0.06, 0.02, 0.08, 0.04])
    counts = _plan_counts(plan, rng, confusion, shots=4000)
    per_circuit = [confusion[: c.num_clbits] for c in plan.circuits]
    quasi = [combine_results(c, m) for c, m in zip(counts, per_circuit, strict=True)]
    value, stderr = plan.value(counts, per_circuit)
    assert value == pytest.approx(plan.value_from_probabilities(quasi), abs=1e-10)
    assert stderr > plan.value(counts)[1]  # inverting the readout amplifies shot noise


def test_mitigated_stderr_matches_the_spread_of_repeated_runs() -> None:
    rng = np.random.default_rng(4)
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    plan = plan_measurements(qc)
    confusion = confusion_matrices([0.03, 0.05, 0.02], [0.08, 0.04, 0.06])
    runs = [
        plan.value(c, [confusion])
        for c in (_plan_counts(plan, rng, confusion, 2000) for _ in range(300))
    ]
    values = np.array([v for v, _ in runs])
    assert np.mean(values) == pytest.approx(1.0, abs=0.005)  # unbiased
    assert np.mean([s for _, s in runs]) == pytest.approx(np.std(values), rel=0.15)


def test_readout_mitigated_value_needs_no_dense_vector_at_thirty_bits() -> None:
    n = 30
    plan = plan_measurements(QuantumCircuit(n), "Z" * n)
    counts = {"0" * n: 7000, "0" * (n - 1) + "1": 3000}
    raw = plan.value([counts])[0]
    assert raw == pytest.approx(0.4)
    # Symmetric readout error only shrinks <Z> by (1 - 2p) per bit.
    symmetric = confusion_matrices([0.02] * n, [0.02] * n)
    assert plan.value([counts], [symmetric])[0] == pytest.approx(raw / 0.96**n)
    # Asymmetric error also shifts it: per bit, z -> (z + p10 - p01) / (1 - p10 - p01).
    p10, p01 = 0.01, 0.03
    value, stderr = plan.value([counts], [confusion_matrices([p10] * n, [p01] * n)])
    zero, one = (1 + p10 - p01) / (1 - p10 - p01), (-1 + p10 - p01) / (1 - p10 - p01)
    assert value == pytest.approx(0.7 * zero**n + 0.3 * zero ** (n - 1) * one)
    assert stderr > 0
