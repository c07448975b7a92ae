"""Zero-noise extrapolation (ZNE) over circuits already transpiled for a device.

``construct_circuits`` folds each circuit at every scale factor with Mitiq's folding
functions; the caller executes all of them in one batch on the device the inputs were
transpiled for; ``combine_results`` extrapolates the measured values to zero noise with
Mitiq's factories.

Example::

    config = ZNEConfig(scale_factors=(1.0, 3.0, 5.0))
    folded = construct_circuits(transpiled, config)      # circuit-major
    values = [...]                                       # one value per folded circuit
    mitigated = combine_batch(values, len(transpiled), config)

Why folding does not go through Mitiq's Qiskit conversion: Mitiq converts a Qiskit
circuit to cirq through QASM 2. Cirq's QASM importer has no ``ecr``, so Mitiq falls back
to re-transpiling onto its own basis (``cx``, ``u3``, ...), and the inverse of ``sx`` comes
back as ``sxdg``: the folded circuit no longer runs on the device without a re-transpile,
which would cancel the folds. It also carries every idle qubit of a 127-156 qubit register
through QASM. Instead each circuit is compacted to its active qubits and every Qiskit
instruction becomes an opaque cirq gate whose inverse is the Qiskit inverse; Mitiq folds
that circuit, and the result is re-embedded on the original physical qubits and clbits.
The only inverse outside a native gate set is ``sxdg``, rewritten as ``rz(π)·sx·rz(π)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cirq
import numpy as np
from mitiq.zne.inference import ExpFactory, LinearFactory, RichardsonFactory
from mitiq.zne.scaling import fold_global

# Private but pinned (mitiq==1.1.0): the two halves of ``fold_gates_at_random``, used so
# gate weights can exclude virtual rz gates (its ``fidelities`` only key cirq gate types).
from mitiq.zne.scaling.folding import _apply_fold_mask, _create_fold_mask
from qiskit.circuit import CircuitInstruction, Delay, Gate, Instruction, QuantumCircuit, Qubit
from qiskit.circuit.library import RZGate, SXGate

from prefect_quantum.errors import InvalidInputError

Factory = Literal["richardson", "linear", "exponential"]
Folding = Literal["global", "gates_at_random", "gates_from_left"]

_FACTORIES = ("richardson", "linear", "exponential")
_FOLDINGS = ("global", "gates_at_random", "gates_from_left")
_SKIPPED = frozenset({"barrier"})
_NON_UNITARY = frozenset({"measure", "reset"})


@dataclass(frozen=True)
class ZNEConfig:
    """How to scale noise and extrapolate back to zero.

    ``asymptote`` is the infinite-noise value for the exponential factory (e.g. ``1/2**n``
    for the probability of one outcome); without it the exponential fit needs three or
    more scale factors.
    """

    scale_factors: tuple[float, ...] = (1.0, 3.0, 5.0)
    factory: Factory = "richardson"
    folding: Folding = "global"
    seed: int = 0
    asymptote: float | None = None

    def __post_init__(self) -> None:
        scales = tuple(float(s) for s in self.scale_factors)
        object.__setattr__(self, "scale_factors", scales)
        if self.factory not in _FACTORIES:
            raise InvalidInputError(
                "factory", f"expected one of {_FACTORIES}, got {self.factory!r}"
            )
        if self.folding not in _FOLDINGS:
            raise InvalidInputError("folding", f"expected one of {_FOLDINGS}, got {self.folding!r}")
        if len(scales) < 2:
            raise InvalidInputError("scale_factors", "at least two scale factors are needed")
        if len(set(scales)) != len(scales):
            raise InvalidInputError("scale_factors", f"must be distinct, got {scales}")
        if any(not math.isfinite(s) or s < 1.0 for s in scales):
            raise InvalidInputError(
                "scale_factors", f"every scale factor must be >= 1, got {scales}"
            )
        if self.folding == "global" and any(not _is_odd_integer(s) for s in scales):
            raise InvalidInputError(
                "scale_factors",
                f"global folding realizes odd integers only (1, 3, 5, ...), got {scales}",
            )
        if self.factory == "exponential" and self.asymptote is None and len(scales) < 3:
            raise InvalidInputError(
                "scale_factors",
                "the exponential factory needs 3 scale factors without an asymptote",
            )


def _is_odd_integer(x: float) -> bool:
    return x == round(x) and round(x) % 2 == 1


# --- folding ----------------------------------------------------------------------------


class _QiskitGate(cirq.Gate):
    """A Qiskit instruction carried through cirq unchanged; its inverse is Qiskit's."""

    def __init__(self, operation: Instruction) -> None:
        self.operation = operation

    def _num_qubits_(self) -> int:
        return int(self.operation.num_qubits)

    def _has_unitary_(self) -> bool:
        return True

    def __deepcopy__(self, memo: dict[int, Any]) -> _QiskitGate:
        # Mitiq deep-copies circuits before folding; the Qiskit operation is never mutated,
        # and copying it dominated the folding time.
        return self

    def __pow__(self, exponent: Any) -> _QiskitGate:
        if exponent == 1:
            return self
        if exponent == -1:
            return _QiskitGate(self.operation.inverse())
        return NotImplemented

    def _circuit_diagram_info_(self, args: Any) -> tuple[str, ...]:
        return (self.operation.name,) * self._num_qubits_()


@dataclass(frozen=True)
class _Split:
    """A transpiled circuit split into its unitary body and its final measurements."""

    body: list[CircuitInstruction]
    measurements: list[CircuitInstruction]
    active: list[Qubit]


def _split(circuit: QuantumCircuit, index: int) -> _Split:
    touched_after: set[Qubit] = set()
    measurements: list[CircuitInstruction] = []
    body: list[CircuitInstruction] = []
    for inst in reversed(circuit.data):
        name = inst.operation.name
        if name in _SKIPPED:
            continue
        if name == "measure" and not (set(inst.qubits) & touched_after):
            measurements.append(inst)
            continue
        if name in _NON_UNITARY or inst.clbits:
            raise InvalidInputError(
                "circuits",
                f"circuit {index} has a non-final {name!r}; only final measurements can be folded",
            )
        if not isinstance(inst.operation, Gate | Delay):
            raise InvalidInputError(
                "circuits", f"circuit {index} has {name!r}, which is not an invertible gate"
            )
        touched_after.update(inst.qubits)
        body.append(inst)
    body.reverse()
    measurements.reverse()
    seen: dict[Qubit, None] = {}
    for inst in body:
        for q in inst.qubits:
            seen.setdefault(q, None)
    return _Split(body, measurements, list(seen))


def _fold_circuit(circuit: QuantumCircuit, index: int, config: ZNEConfig) -> list[QuantumCircuit]:
    """``circuit`` at each scale factor: compact once, fold per scale, re-embed."""
    split = _split(circuit, index)
    line = {q: cirq.LineQubit(i) for i, q in enumerate(split.active)}
    compact = cirq.Circuit(
        _QiskitGate(inst.operation).on(*(line[q] for q in inst.qubits)) for inst in split.body
    )
    rewrite_sxdg = "sxdg" not in circuit.count_ops()
    return [
        _embed(_scale_noise(compact, scale, config, index), circuit, split, rewrite_sxdg)
        for scale in config.scale_factors
    ]


def _embed(
    folded: cirq.Circuit, circuit: QuantumCircuit, split: _Split, rewrite_sxdg: bool
) -> QuantumCircuit:
    """The folded compact circuit back on ``circuit``'s physical qubits and clbits."""
    out = circuit.copy_empty_like()
    # ``_append`` is Qiskit's documented fast path without argument checks: every qubit
    # and clbit here comes from ``circuit`` itself.
    for op in folded.all_operations():
        gate = op.gate
        assert isinstance(gate, _QiskitGate)
        qubits = tuple(split.active[q.x] for q in op.qubits)  # type: ignore[attr-defined]
        if rewrite_sxdg and gate.operation.name == "sxdg":
            # sx† = rz(π)·sx·rz(π) up to a global phase; rz is virtual on IBM devices.
            out._append(CircuitInstruction(RZGate(math.pi), qubits))
            out._append(CircuitInstruction(SXGate(), qubits))
            out._append(CircuitInstruction(RZGate(math.pi), qubits))
        else:
            out._append(CircuitInstruction(gate.operation, qubits))
    for inst in split.measurements:
        out._append(inst)
    return out


def _scale_noise(
    compact: cirq.Circuit, scale: float, config: ZNEConfig, index: int
) -> cirq.Circuit:
    if scale == 1.0:
        return compact
    if config.folding == "global":
        return fold_global(compact, scale)
    weights = [_noise_weight(op) for op in compact.all_operations()]
    if config.folding == "gates_at_random":
        # The seed differs per circuit and scale so folds are not correlated across them.
        seed = config.seed + 1_000_003 * index + round(scale * 1000)
        mask = _create_fold_mask(weights, scale, seed=seed)
    else:
        mask = _fold_mask_from_left(weights, scale)
    return _apply_fold_mask(compact, mask, squash_moments=True)


def _noise_weight(op: cirq.Operation) -> float:
    """Mitiq's default gate weight (``1 - 0.99**num_qubits``), but 0 for ``rz``, which is
    virtual (error-free) on IBM devices: folding it would not scale any noise."""
    gate = op.gate
    if isinstance(gate, _QiskitGate) and gate.operation.name == "rz":
        return 0.0
    return 1.0 - 0.99 ** len(op.qubits)


def _fold_mask_from_left(weights: list[float], scale: float) -> list[int]:
    """Fold every weighted gate ``(scale-1)//2`` times, then the leftmost ones once more
    while that brings the total weight closer to ``scale`` times the original (Mitiq's
    greedy rule, in circuit order instead of a random one)."""
    uniform = int((scale - 1.0) // 2)
    mask = [uniform if w > 0 else 0 for w in weights]
    target = scale * sum(weights)
    current = (2 * uniform + 1) * sum(weights)
    for j, w in enumerate(weights):
        if w <= 0:
            continue
        if abs(current + 2 * w - target) >= abs(current - target):
            break
        current += 2 * w
        mask[j] += 1
    return mask


def construct_circuits(
    circuits: Sequence[QuantumCircuit], config: ZNEConfig
) -> list[QuantumCircuit]:
    """Noise-scaled copies of each circuit, circuit-major: c0@s0, c0@s1, ..., c1@s0, ...

    Each copy keeps the input's qubits, clbits and final measurements and uses only the
    input's gates (plus ``rz``/``sx`` for inverted ``sx``), so all of them run in one batch
    on the device the inputs were transpiled for. Barriers are dropped. Local folding
    weighs gates as Mitiq does by default, except virtual ``rz`` (weight 0, never folded).
    """
    return [
        folded for i, circuit in enumerate(circuits) for folded in _fold_circuit(circuit, i, config)
    ]


# --- extrapolation ----------------------------------------------------------------------


def combine_results(values: Sequence[float], config: ZNEConfig) -> float:
    """The zero-noise limit of one circuit's values, one per scale factor."""
    scales = list(config.scale_factors)
    if len(values) != len(scales):
        raise InvalidInputError(
            "values", f"expected {len(scales)} values (one per scale factor), got {len(values)}"
        )
    vals = [float(v) for v in values]
    with warnings.catch_warnings():
        # Mitiq warns when the fit is exact (as many points as parameters); that is the
        # point of Richardson extrapolation, not a problem.
        warnings.simplefilter("ignore")
        if config.factory == "richardson":
            result = RichardsonFactory.extrapolate(scales, vals)
        elif config.factory == "linear":
            result = LinearFactory.extrapolate(scales, vals)
        else:
            result = ExpFactory.extrapolate(scales, vals, asymptote=config.asymptote)
    return float(result)


def combine_batch(values: Sequence[float], num_circuits: int, config: ZNEConfig) -> list[float]:
    """``combine_results`` for each circuit of a circuit-major list from ``construct_circuits``."""
    k = len(config.scale_factors)
    if len(values) != num_circuits * k:
        raise InvalidInputError(
            "values", f"expected {num_circuits} x {k} values (circuit-major), got {len(values)}"
        )
    return [combine_results(values[i * k : (i + 1) * k], config) for i in range(num_circuits)]


def extrapolation_weights(config: ZNEConfig) -> np.ndarray:
    """Weights ``w`` with zero-noise limit ``= w · values`` for the linear-in-values
    factories: Richardson (Lagrange weights at 0) and linear (least-squares intercept)."""
    if config.factory == "exponential":
        raise InvalidInputError("factory", "the exponential fit is not linear in the values")
    s = np.asarray(config.scale_factors, dtype=float)
    degree = len(s) - 1 if config.factory == "richardson" else 1
    vander = np.vander(s, degree + 1, increasing=True)
    # Intercept row of the least-squares (or, for Richardson, exact) solve.
    return np.asarray(np.linalg.pinv(vander)[0])


def propagate_stderr(stderrs: Sequence[float], config: ZNEConfig) -> float:
    """Shot-noise stderr of the zero-noise limit, propagated linearly through the
    extrapolation weights (independent values at each scale factor). For the exponential
    factory the weights of a Richardson fit on the same points stand in, which is an
    approximation."""
    errs = np.asarray(stderrs, dtype=float)
    if errs.shape != (len(config.scale_factors),):
        raise InvalidInputError("stderrs", "expected one stderr per scale factor")
    factory: Factory = "richardson" if config.factory == "exponential" else config.factory
    proxy = ZNEConfig(config.scale_factors, factory, config.folding, config.seed)
    w = extrapolation_weights(proxy)
    return float(np.sqrt(np.sum((w * errs) ** 2)))
