"""What a circuit's value is, and how to read it from measurement counts.

Without an observable a circuit's value is the probability of its ideal outcome(s), the
bitstrings its noiseless unitary part produces with probability above a threshold (a
GHZ state has two). That suits circuits with a concentrated ideal distribution (GHZ, mirror
circuits, basis states); for a broad one the value is close to 1 whatever the noise, so
give an observable instead. With an observable (a Pauli string in Qiskit's little-endian order, or
a ``SparsePauliOp`` with real coefficients) it is the expectation value, measured with one
circuit per qubit-wise commuting group of terms.

Example::

    plan = plan_measurements(circuit, "ZZII")
    counts = [run(c) for c in plan.circuits]       # Qiskit bitstring dicts
    value, stderr = plan.value(counts)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.names import shown

MAX_STATEVECTOR_QUBITS = 24


@dataclass(frozen=True)
class GroupReadout:
    """How one measurement circuit's bitstrings turn into a value.

    Either ``outcomes`` is set (value = probability of those bitstrings), or ``masks`` and
    ``coeffs`` are: term ``t`` contributes ``coeffs[t] * (-1)^(parity of the bits where
    masks[:, t] is 1)``; row ``j`` of ``masks`` is clbit ``j``. ``width`` is the number of
    clbits.
    """

    width: int
    outcomes: frozenset[str] | None = None
    masks: np.ndarray | None = None
    coeffs: np.ndarray | None = None

    def per_outcome(self, keys: Sequence[str], inverse: np.ndarray | None = None) -> np.ndarray:
        """The value of each bitstring in ``keys`` (spaces between registers ignored).

        With ``inverse`` (shape ``(width, 2, 2)``: the inverse readout confusion matrix of
        each clbit) it is instead ``g(x) = sum_y f(y) Inv[y, x]`` for the tensored inverse
        ``Inv``, so the mean of ``g`` over the shots is the readout-mitigated value. Both
        forms factorize over bits, so this costs O(shots x bits), never 2^bits.
        """
        clean = [k.replace(" ", "") for k in keys]
        width = self.width
        if any(len(k) != width for k in clean):
            raise InvalidInputError("counts", f"expected {width}-bit bitstrings")
        if self.outcomes is not None and inverse is None:
            return np.array([1.0 if k in self.outcomes else 0.0 for k in clean])
        # Bit matrix, column j = clbit j (Qiskit strings put the highest clbit first).
        raw = np.frombuffer("".join(clean).encode("ascii"), dtype=np.uint8)
        bits = (raw.reshape(len(clean), width)[:, ::-1] - ord("0")).astype(np.intp)
        columns = np.arange(width)
        if self.outcomes is not None:
            assert inverse is not None
            total = np.zeros(len(clean))
            for outcome in self.outcomes:
                ideal_bits = np.array([int(c) for c in reversed(outcome)], dtype=np.intp)
                row = inverse[columns, ideal_bits, :]  # Inv_j[y_j, b]
                total += np.prod(row[columns, bits], axis=1)
            return total
        assert self.masks is not None and self.coeffs is not None
        if inverse is None:
            signs = 1 - 2 * ((bits @ self.masks) & 1)
            return np.asarray(signs @ self.coeffs, dtype=float)
        # Per bit, Z's row through the inverse: Inv_j[0, b] - Inv_j[1, b]; identity bits
        # contribute 1 because the columns of each inverse sum to 1.
        z_row = (inverse[:, 0, :] - inverse[:, 1, :])[columns, bits]  # (shots, width)
        total = np.zeros(len(clean))
        for term, coeff in enumerate(self.coeffs):
            total += coeff * np.prod(z_row[:, self.masks[:, term].astype(bool)], axis=1)
        return total


@dataclass(frozen=True)
class MeasurementPlan:
    """Measurement circuits (logical, not transpiled) and how to read their counts.

    The value is ``offset`` (identity terms) plus the sum over circuits of the mean of
    ``readouts[i]`` over the samples of ``circuits[i]``.
    """

    circuits: list[QuantumCircuit]
    readouts: list[GroupReadout]
    offset: float = 0.0

    def value(
        self,
        counts: Sequence[Mapping[str, int]],
        confusion: Sequence[Sequence[np.ndarray]] | None = None,
    ) -> tuple[float, float]:
        """(value, shot-noise stderr) from counts index-aligned with ``circuits``.

        With ``confusion`` (per circuit, one ``2 x 2`` matrix ``C[measured, prepared]`` per
        clbit, as ``mitigation.rem.confusion_matrices`` gives) the value is
        readout-mitigated: the same number as ``value_from_probabilities`` of REM's
        quasi-probabilities, plus its stderr, at any width.
        """
        self._check_length(counts)
        if confusion is not None:
            self._check_length(confusion)
        total, variance = self.offset, 0.0
        for i, (readout, c) in enumerate(zip(self.readouts, counts, strict=True)):
            weights = np.array(list(c.values()), dtype=float)
            shots = weights.sum()
            if shots <= 0:
                raise InvalidInputError("counts", "a measurement circuit has no shots")
            inverse = None if confusion is None else _inverses(confusion[i], readout.width)
            f = readout.per_outcome(list(c), inverse)
            mean = float(weights @ f / shots)
            # Variance of the group's per-shot value (its terms are correlated), / shots.
            second = float(weights @ (f * f) / shots)
            total += mean
            variance += max(second - mean * mean, 0.0) / max(shots - 1.0, 1.0)
        return total, float(np.sqrt(variance))

    def value_from_probabilities(self, probs: Sequence[Mapping[str, float]]) -> float:
        """The value from (quasi-)probabilities, e.g. after readout mitigation; each
        mapping is normalized by its sum."""
        self._check_length(probs)
        total = self.offset
        for readout, p in zip(self.readouts, probs, strict=True):
            weights = np.array(list(p.values()), dtype=float)
            norm = weights.sum()
            if norm == 0:
                raise InvalidInputError("probs", "a distribution sums to zero")
            total += float(weights @ readout.per_outcome(list(p)) / norm)
        return total

    def _check_length(self, results: Sequence[object]) -> None:
        if len(results) != len(self.circuits):
            raise InvalidInputError(
                "counts", f"expected {len(self.circuits)} results, got {len(results)}"
            )


def _inverses(confusion: Sequence[np.ndarray], width: int) -> np.ndarray:
    matrices = np.asarray(confusion, dtype=float)
    if matrices.shape != (width, 2, 2):
        raise InvalidInputError(
            "confusion", f"expected {width} 2x2 matrices (one per clbit), got {matrices.shape}"
        )
    return np.asarray(np.linalg.inv(matrices))


def plan_measurements(
    circuit: QuantumCircuit,
    observable: str | SparsePauliOp | None = None,
    *,
    ideal_support_threshold: float = 1e-6,
    outcomes: frozenset[str] | None = None,
) -> MeasurementPlan:
    """The measurement circuits for ``circuit``'s value; its own final measurements are
    replaced. ``outcomes``, when known (built-in circuits), spares the statevector."""
    body = _unitary_part(circuit)
    if observable is None:
        if outcomes is None:
            outcomes = ideal_outcomes(body, threshold=ideal_support_threshold)
        measured = body.copy()
        measured.measure_all(add_bits=True)
        return MeasurementPlan([measured], [GroupReadout(body.num_qubits, outcomes=outcomes)])
    op = _as_real_pauli_op(observable, body.num_qubits)
    identity = ~(op.paulis.z | op.paulis.x).any(axis=1)
    offset = float(np.sum(op.coeffs[identity].real))
    rest = op[~identity]
    circuits: list[QuantumCircuit] = []
    readouts: list[GroupReadout] = []
    if len(rest) > 0:
        for group in rest.group_commuting(qubit_wise=True):
            qc, readout = _group_circuit(body, group)
            circuits.append(qc)
            readouts.append(readout)
    return MeasurementPlan(circuits, readouts, offset)


def ideal_outcomes(circuit: QuantumCircuit, threshold: float = 1e-6) -> frozenset[str]:
    """Bitstrings (over all qubits, qubit 0 rightmost) the circuit's unitary part
    produces with probability above ``threshold``."""
    body = _unitary_part(circuit)
    if body.parameters:
        raise InvalidInputError(
            "circuit", "bind the circuit's parameters to find its ideal outcomes"
        )
    if body.num_qubits > MAX_STATEVECTOR_QUBITS:
        raise InvalidInputError(
            "observable",
            f"a {body.num_qubits}-qubit circuit is too wide to find its ideal outcomes "
            f"(max {MAX_STATEVECTOR_QUBITS}); give an observable",
        )
    probs = Statevector(body).probabilities()
    width = body.num_qubits
    return frozenset(format(int(i), f"0{width}b") for i in np.flatnonzero(probs > threshold))


def check_pauli_label(label: object, num_qubits: int, *, field: str = "observable") -> str:
    """``label`` upper-cased when it is a Pauli string (I, X, Y, Z) of ``num_qubits``
    letters; InvalidInputError naming ``field`` otherwise."""
    if not isinstance(label, str):
        raise InvalidInputError(
            field, f"expected a Pauli string such as 'ZZI', got {type(label).__name__}"
        )
    clean = label.strip().upper()
    if not clean or len(clean) > 10_000 or set(clean) - set("IXYZ"):
        raise InvalidInputError(
            field, f"a Pauli label uses only I, X, Y, Z; got {shown(label)}"
        )
    if len(clean) != num_qubits:
        raise InvalidInputError(
            field, f"observable acts on {len(clean)} qubits, the circuit has {num_qubits}"
        )
    return clean


def check_final_measurements(circuit: QuantumCircuit, *, field: str = "circuit") -> None:
    """Refuse, naming ``field``, a circuit measured or reset anywhere but at its end."""
    try:
        _unitary_part(circuit)
    except InvalidInputError as exc:
        raise InvalidInputError(field, str(exc).removeprefix(f"{exc.field}: ")) from None


def _unitary_part(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` without final measurements or classical bits; anything else
    non-unitary is an error."""
    stripped = circuit.remove_final_measurements(inplace=False)
    assert stripped is not None
    body = QuantumCircuit(
        stripped.num_qubits, name=circuit.name, global_phase=stripped.global_phase
    )
    for inst in stripped.data:
        name = inst.operation.name
        if inst.clbits or name in ("measure", "reset") or not inst.operation.num_qubits:
            raise InvalidInputError(
                "circuit", f"only final measurements are allowed, found {name!r} mid-circuit"
            )
        if name == "barrier":
            continue
        body.append(inst.operation, [stripped.find_bit(q).index for q in inst.qubits])
    return body


def _as_real_pauli_op(observable: str | SparsePauliOp, num_qubits: int) -> SparsePauliOp:
    if isinstance(observable, str):
        op = SparsePauliOp(check_pauli_label(observable, num_qubits))
    elif isinstance(observable, SparsePauliOp):
        op = observable
    else:
        raise InvalidInputError(
            "observable", f"expected a Pauli string or SparsePauliOp, got {type(observable)}"
        )
    if op.num_qubits != num_qubits:
        raise InvalidInputError(
            "observable",
            f"observable acts on {op.num_qubits} qubits, the circuit has {num_qubits}",
        )
    if np.any(np.abs(np.imag(op.coeffs)) > 1e-12):
        raise InvalidInputError("observable", "coefficients must be real (a Hermitian observable)")
    return SparsePauliOp(op.paulis, np.real(op.coeffs).astype(complex))


def _group_circuit(
    body: QuantumCircuit, group: SparsePauliOp
) -> tuple[QuantumCircuit, GroupReadout]:
    """One circuit measuring a qubit-wise commuting group in its shared basis."""
    z, x = group.paulis.z, group.paulis.x  # shape (terms, qubits)
    support = [q for q in range(body.num_qubits) if (z[:, q] | x[:, q]).any()]
    qc = body.copy()
    qc.name = f"{body.name}_meas{len(support)}"
    for q in support:
        has_x, has_z = bool(x[:, q].any()), bool(z[:, q].any())
        if has_x and has_z:  # Y
            qc.sdg(q)
            qc.h(q)
        elif has_x:  # X
            qc.h(q)
    qc.barrier()
    creg_circuit = QuantumCircuit(body.num_qubits, len(support))
    qc = creg_circuit.compose(qc)
    for j, q in enumerate(support):
        qc.measure(q, j)
    masks = (z[:, support] | x[:, support]).T.astype(np.int64)  # (clbits, terms)
    return qc, GroupReadout(len(support), masks=masks, coeffs=np.real(group.coeffs).astype(float))
