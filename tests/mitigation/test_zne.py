"""ZNE: folding transpiled circuits in place, and extrapolating back to zero noise."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
from mitigation_helpers import (
    active_qubits,
    compact_operator,
    cz_device,
    ecr_device,
    ghz,
    measured_qubits,
    mirror_ansatz,
)
from qiskit import QuantumCircuit, transpile
from qiskit.providers.fake_provider import GenericBackendV2

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.mitigation.zne import (
    ZNEConfig,
    combine_batch,
    combine_results,
    construct_circuits,
    extrapolation_weights,
    propagate_stderr,
)

FOLDINGS = [
    ZNEConfig((1.0, 3.0, 5.0), folding="global"),
    ZNEConfig((1.0, 2.0, 3.5), folding="gates_at_random", seed=5),
    ZNEConfig((1.0, 1.5, 3.0), folding="gates_from_left"),
]


def _transpiled(device: GenericBackendV2, circuit: QuantumCircuit) -> QuantumCircuit:
    measured = circuit.copy()
    measured.measure_all()
    return transpile(measured, device, optimization_level=1, seed_transpiler=3)


def _noise_weight(circuit: QuantumCircuit) -> float:
    """Mitiq's default gate weights (1 - 0.99**num_qubits), with virtual rz weighing 0."""
    return sum(
        1 - 0.99**i.operation.num_qubits
        for i in circuit.data
        if i.operation.name not in ("rz", "measure", "barrier")
    )


@pytest.mark.parametrize("device", [ecr_device, cz_device], ids=["ecr", "cz"])
@pytest.mark.parametrize("config", FOLDINGS, ids=lambda c: c.folding)
def test_folded_circuits_run_unchanged_on_the_same_device(
    device: Callable[[], GenericBackendV2], config: ZNEConfig
) -> None:
    original = _transpiled(device(), mirror_ansatz(4, 2, seed=1))
    native = set(original.count_ops()) - {"barrier"}
    folded = construct_circuits([original], config)
    assert len(folded) == len(config.scale_factors)
    reference = compact_operator(original, active_qubits(original))
    for scale, circuit in zip(config.scale_factors, folded, strict=True):
        assert circuit.num_qubits == original.num_qubits
        assert list(circuit.clbits) == list(original.clbits)
        assert set(circuit.count_ops()) <= native
        assert active_qubits(circuit) == active_qubits(original)
        assert measured_qubits(circuit) == measured_qubits(original)
        # Physical connectivity is untouched: every 2q gate sits on an original pair.
        pairs = {
            tuple(original.find_bit(q).index for q in i.qubits)
            for i in original.data
            if i.operation.num_qubits == 2
        }
        assert {
            tuple(circuit.find_bit(q).index for q in i.qubits)
            for i in circuit.data
            if i.operation.num_qubits == 2
        } <= pairs
        assert compact_operator(circuit, active_qubits(original)).equiv(reference)
        # The weight of the gates that cost noise (all but virtual rz) scales as asked.
        weight = _noise_weight(original)
        assert _noise_weight(circuit) == pytest.approx(scale * weight, abs=0.02)


def test_global_folding_scales_gate_counts_exactly() -> None:
    original = _transpiled(ecr_device(), ghz(5))
    folded = construct_circuits([original], ZNEConfig((1.0, 3.0, 5.0)))
    for scale, circuit in zip((1, 3, 5), folded, strict=True):
        for gate in ("ecr", "sx", "x"):
            assert circuit.count_ops().get(gate, 0) == scale * original.count_ops().get(gate, 0)


def test_circuit_major_order_and_cost() -> None:
    device = ecr_device()
    circuits = [_transpiled(device, ghz(3)), _transpiled(device, ghz(6))]
    config = ZNEConfig((1.0, 3.0))
    folded = construct_circuits(circuits, config)
    sizes = [c.count_ops()["ecr"] for c in folded]
    assert sizes == [2, 6, 5, 15]

    batch = [_transpiled(device, mirror_ansatz(5, 2, seed=s)) for s in range(20)]
    start = time.perf_counter()
    construct_circuits(batch, ZNEConfig())
    per_circuit = (time.perf_counter() - start) / (len(batch) * 3)
    assert per_circuit < 0.05  # ~2-5 ms measured; Mitiq's QASM round trip costs ~40-80 ms


def test_folded_circuits_give_the_same_ideal_counts() -> None:
    from qiskit_aer import AerSimulator

    original = _transpiled(ecr_device(), ghz(4))
    folded = construct_circuits([original], ZNEConfig((1.0, 3.0, 5.0)))
    result = AerSimulator(seed_simulator=1).run(folded, shots=400).result()
    for i in range(3):
        assert set(result.get_counts(i)) == {"0000", "1111"}


def test_non_final_measurement_is_rejected() -> None:
    qc = QuantumCircuit(2, 2)
    qc.measure(0, 0)
    qc.x(0)
    qc.measure(0, 1)
    with pytest.raises(InvalidInputError) as err:
        construct_circuits([qc], ZNEConfig())
    assert err.value.field == "circuits"


def test_non_invertible_instruction_is_rejected() -> None:
    qc = QuantumCircuit(1, 1)
    qc.initialize([0, 1], 0)
    qc.measure(0, 0)
    with pytest.raises(InvalidInputError) as err:
        construct_circuits([qc], ZNEConfig())
    assert err.value.field == "circuits"


def test_delays_are_kept_and_folded() -> None:
    qc = QuantumCircuit(1, 1)
    qc.sx(0)
    qc.delay(100, 0, unit="dt")
    qc.measure(0, 0)
    folded = construct_circuits([qc], ZNEConfig((1.0, 3.0)))
    assert folded[1].count_ops()["delay"] == 3
    assert Counter(i.operation.name for i in folded[1].data)["sx"] == 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scale_factors": (1.0,)}, "scale_factors"),
        ({"scale_factors": (0.5, 1.0, 3.0)}, "scale_factors"),
        ({"scale_factors": (1.0, 1.0, 3.0)}, "scale_factors"),
        ({"scale_factors": (1.0, 2.0, 3.0)}, "scale_factors"),  # global needs odd integers
        ({"scale_factors": (1.0, math.inf)}, "scale_factors"),
        ({"factory": "quadratic"}, "factory"),
        ({"folding": "layers"}, "folding"),
        ({"factory": "exponential", "scale_factors": (1.0, 3.0)}, "scale_factors"),
    ],
)
def test_config_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        ZNEConfig(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_fractional_scales_are_fine_for_local_folding() -> None:
    assert ZNEConfig((1.0, 2.0, 3.5), folding="gates_at_random").scale_factors == (1.0, 2.0, 3.5)


def test_richardson_recovers_a_polynomial_exactly() -> None:
    config = ZNEConfig((1.0, 3.0, 5.0))
    values = [0.7 - 0.1 * s + 0.004 * s**2 for s in config.scale_factors]
    assert combine_results(values, config) == pytest.approx(0.7, abs=1e-12)


def test_linear_and_exponential_factories() -> None:
    linear = ZNEConfig((1.0, 3.0, 5.0), factory="linear")
    assert combine_results([0.9 - 0.05 * s for s in (1, 3, 5)], linear) == pytest.approx(0.9)

    def decay(s: float) -> float:
        return 0.25 + 0.7 * math.exp(-0.2 * s)

    scales = (1.0, 3.0, 5.0, 7.0)
    free = ZNEConfig(scales, factory="exponential")
    assert combine_results([decay(s) for s in scales], free) == pytest.approx(0.95, abs=1e-6)
    pinned = ZNEConfig((1.0, 3.0), factory="exponential", asymptote=0.25)
    assert combine_results([decay(s) for s in (1.0, 3.0)], pinned) == pytest.approx(0.95)


def test_combine_batch_is_circuit_major() -> None:
    config = ZNEConfig((1.0, 3.0), factory="linear")
    assert combine_batch([0.9, 0.7, 0.5, 0.4], 2, config) == pytest.approx([1.0, 0.55])
    with pytest.raises(InvalidInputError):
        combine_batch([0.9, 0.7, 0.5], 2, config)
    with pytest.raises(InvalidInputError):
        combine_results([0.9], config)


def test_stderr_propagation_through_richardson_weights() -> None:
    config = ZNEConfig((1.0, 3.0, 5.0))
    weights = extrapolation_weights(config)
    assert weights == pytest.approx([15 / 8, -10 / 8, 3 / 8])
    values = np.array([0.9, 0.8, 0.72])
    assert float(weights @ values) == pytest.approx(combine_results(list(values), config))
    expected = math.sqrt((15 / 8 * 0.01) ** 2 + (10 / 8 * 0.01) ** 2 + (3 / 8 * 0.01) ** 2)
    assert propagate_stderr([0.01, 0.01, 0.01], config) == pytest.approx(expected)
    linear = ZNEConfig((1.0, 3.0, 5.0), factory="linear")
    # Least-squares intercept: 1/3 - 3 (s - 3) / 8 at s = 1, 3, 5.
    assert extrapolation_weights(linear) == pytest.approx([13 / 12, 1 / 3, -5 / 12])
    assert float(extrapolation_weights(linear) @ values) == pytest.approx(
        combine_results(list(values), linear)
    )
