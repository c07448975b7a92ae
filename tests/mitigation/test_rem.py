"""REM: inverting a device's own asymmetric per-qubit readout errors."""

from __future__ import annotations

import time
from functools import reduce

import numpy as np
import pytest
from mitiq.rem.inverse_confusion_matrix import closest_positive_distribution
from qiskit import QuantumCircuit

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.mitigation.rem import (
    closest_probabilities,
    combine_results,
    confusion_matrices,
    construct_circuits,
)


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
