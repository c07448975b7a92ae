"""A circuit's value from counts: ideal-outcome probability or a Pauli expectation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer import AerSimulator

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.observables import ideal_outcomes, plan_measurements


def ghz(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    qc.measure_all()
    return qc


def exact_probabilities(measurement_circuit: QuantumCircuit) -> dict[str, float]:
    """Exact outcome probabilities over the measured clbits of a plan's circuit."""
    return {
        k: float(v)
        for k, v in Statevector(measurement_circuit.remove_final_measurements(inplace=False))
        .probabilities_dict(qargs=_measured_qubits(measurement_circuit))
        .items()
    }


def _measured_qubits(qc: QuantumCircuit) -> list[int]:
    by_clbit = {
        qc.find_bit(i.clbits[0]).index: qc.find_bit(i.qubits[0]).index
        for i in qc.data
        if i.operation.name == "measure"
    }
    return [by_clbit[j] for j in range(len(by_clbit))]


def test_ghz_value_is_probability_of_both_ideal_outcomes() -> None:
    plan = plan_measurements(ghz(3))
    assert len(plan.circuits) == 1 and plan.circuits[0].num_clbits == 3
    assert plan.value([{"000": 500, "111": 500}]) == (1.0, 0.0)
    value, stderr = plan.value([{"000": 400, "111": 400, "010": 200}])
    assert value == pytest.approx(0.8)
    assert stderr == pytest.approx(math.sqrt(0.8 * 0.2 / 999))


def test_bell_ideal_outcomes_and_threshold() -> None:
    assert ideal_outcomes(ghz(2)) == frozenset({"00", "11"})
    qc = QuantumCircuit(1)
    qc.ry(2 * math.asin(math.sqrt(1e-4)), 0)  # P(1) = 1e-4
    assert ideal_outcomes(qc, threshold=1e-6) == frozenset({"0", "1"})
    assert ideal_outcomes(qc, threshold=1e-3) == frozenset({"0"})


def test_final_measurements_are_replaced_and_bits_follow_qubits() -> None:
    qc = QuantumCircuit(3, 1)
    qc.x(2)
    qc.measure(2, 0)  # the input's own measurement is dropped
    plan = plan_measurements(qc)
    assert plan.circuits[0].num_clbits == 3
    assert plan.value([{"100": 10}])[0] == 1.0
    assert plan.value([{"001": 10}])[0] == 0.0


def _random_observable(n: int, rng: np.random.Generator, terms: int) -> SparsePauliOp:
    labels = ["".join(rng.choice(list("IXYZ"), size=n)) for _ in range(terms)]
    return SparsePauliOp([*labels, "I" * n], rng.normal(size=terms + 1))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pauli_expectation_matches_statevector(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3
    qc = random_circuit(n, 4, seed=seed)
    observable = _random_observable(n, rng, terms=6)
    exact = float(Statevector(qc).expectation_value(observable).real)
    plan = plan_measurements(qc, observable)

    # Exact probabilities through the plan: basis rotations and signs are right.
    probs = [exact_probabilities(c) for c in plan.circuits]
    assert plan.value_from_probabilities(probs) == pytest.approx(exact, abs=1e-9)

    # Sampled: within 4 standard errors.
    sim = AerSimulator(seed_simulator=seed)
    result = sim.run(transpile(plan.circuits, sim), shots=4000).result()
    value, stderr = plan.value([result.get_counts(i) for i in range(len(plan.circuits))])
    assert stderr > 0
    assert abs(value - exact) < 4 * stderr


def test_terms_are_grouped_qubit_wise() -> None:
    bell = ghz(2)
    observable = SparsePauliOp(["ZZ", "ZI", "XX", "II"], [1.0, 2.0, 3.0, 0.5])
    plan = plan_measurements(bell, observable)
    assert len(plan.circuits) == 2  # {ZZ, ZI} and {XX}; II is a constant
    probs = [exact_probabilities(c) for c in plan.circuits]
    assert plan.value_from_probabilities(probs) == pytest.approx(1.0 + 0.0 + 3.0 + 0.5)


def test_group_stderr_accounts_for_correlated_terms() -> None:
    # On a Bell state ZI and IZ are perfectly correlated: per shot the sum is +2 or -2,
    # so the stderr is 2/sqrt(N), not sqrt(2)/sqrt(N) as for independent terms.
    plan = plan_measurements(ghz(2), SparsePauliOp(["ZI", "IZ"]))
    assert len(plan.circuits) == 1
    value, stderr = plan.value([{"00": 500, "11": 500}])
    assert value == 0.0
    assert stderr == pytest.approx(2 / math.sqrt(999))


def test_stderr_scales_as_inverse_sqrt_shots() -> None:
    qc = QuantumCircuit(2)
    qc.ry(1.1, 0)
    qc.cx(0, 1)
    qc.rx(0.4, 1)
    plan = plan_measurements(qc, "XZ")
    sim = AerSimulator(seed_simulator=11)
    small = plan.value([sim.run(plan.circuits, shots=1000).result().get_counts(0)])[1]
    large = plan.value([sim.run(plan.circuits, shots=16000).result().get_counts(0)])[1]
    assert small / large == pytest.approx(4.0, rel=0.1)


@pytest.mark.parametrize(
    "observable",
    [
        "ZZZ",  # too wide
        "Z",  # too narrow
        "ZA",  # not a Pauli
        "",
        SparsePauliOp(["ZZ", "XX"], [1.0, 1j]),  # not Hermitian
        SparsePauliOp("ZZZ"),
        42,
    ],
)
def test_bad_observables(observable: Any) -> None:
    with pytest.raises(InvalidInputError) as err:
        plan_measurements(ghz(2), observable)
    assert err.value.field == "observable"


def test_wide_circuit_needs_an_observable() -> None:
    qc = QuantumCircuit(25)
    qc.h(0)
    with pytest.raises(InvalidInputError) as err:
        plan_measurements(qc)
    assert err.value.field == "observable"
    plan = plan_measurements(qc, "I" * 24 + "X")
    assert plan.value_from_probabilities([{"0": 1.0}]) == 1.0


def test_mid_circuit_measurement_is_rejected() -> None:
    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    qc.h(0)
    with pytest.raises(InvalidInputError) as err:
        plan_measurements(qc, "Z")
    assert err.value.field == "circuit"


def test_parameters_need_binding_only_without_an_observable() -> None:
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(1)
    qc.rx(Parameter("t"), 0)
    with pytest.raises(InvalidInputError) as err:
        plan_measurements(qc)
    assert err.value.field == "circuit"
    assert plan_measurements(qc, "Z").circuits[0].parameters == qc.parameters


def test_counts_must_align_with_circuits() -> None:
    plan = plan_measurements(ghz(2), SparsePauliOp(["ZZ", "XX"]))
    with pytest.raises(InvalidInputError):
        plan.value([{"00": 1}])
    with pytest.raises(InvalidInputError):
        plan_measurements(ghz(2)).value([{"000": 1}])  # wrong width
