"""The circuits a job can name: built-ins, OpenQASM 2/3 (text or file) and Qiskit circuits.

Built-ins are written ``name:width[:layers]``:

- ``ghz:N``: an N-qubit GHZ state; its ideal outcomes are ``0...0`` and ``1...1``.
- ``hea:N[:L]``: a mirror hardware-efficient ansatz: L seeded layers of RY/RZ rotations
  and a CX ladder, followed by their inverse, so the ideal outcome is ``0...0`` and the
  noise is that of a real ansatz of twice the depth.
- ``bell``: the two-qubit Bell state.

>>> resolve_circuit("ghz:3").circuit.num_qubits
3
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qiskit import QuantumCircuit, qasm2, qasm3

from prefect_quantum.errors import InvalidInputError

MAX_BUILTIN_WIDTH = 156
"""The widest device of the default fleet; wider built-ins can never run."""


@dataclass(frozen=True)
class NamedCircuit:
    """A circuit with the name its rows are reported under."""

    name: str
    circuit: QuantumCircuit
    ideal_outcomes: frozenset[str] | None = None
    """The ideal outcomes when known without simulating (built-ins)."""


def ghz(num_qubits: int) -> QuantumCircuit:
    """An N-qubit GHZ state preparation, measured on all qubits."""
    qc = QuantumCircuit(num_qubits, name=f"ghz:{num_qubits}")
    qc.h(0)
    for q in range(num_qubits - 1):
        qc.cx(q, q + 1)
    qc.measure_all()
    return qc


def mirror_hea(num_qubits: int, layers: int = 2, seed: int = 7) -> QuantumCircuit:
    """A hardware-efficient ansatz with seeded angles, followed by its inverse."""
    rng = random.Random(seed)
    ansatz = QuantumCircuit(num_qubits)
    for _ in range(layers):
        for q in range(num_qubits):
            ansatz.ry(rng.uniform(-math.pi, math.pi), q)
            ansatz.rz(rng.uniform(-math.pi, math.pi), q)
        for q in range(num_qubits - 1):
            ansatz.cx(q, q + 1)
    qc = QuantumCircuit(num_qubits, name=f"hea:{num_qubits}:{layers}")
    qc.compose(ansatz, inplace=True)
    qc.barrier()
    qc.compose(ansatz.inverse(), inplace=True)
    qc.measure_all()
    return qc


def bell() -> QuantumCircuit:
    """The two-qubit Bell state ``(|00> + |11>)/sqrt(2)``, measured."""
    qc = ghz(2)
    qc.name = "bell"
    return qc


_BUILTINS: dict[str, tuple[Callable[..., QuantumCircuit], int, int]] = {
    # name: (factory, minimum width, number of integer arguments)
    "ghz": (ghz, 2, 1),
    "hea": (mirror_hea, 1, 2),
    "bell": (lambda: bell(), 2, 0),
}


def builtin_names() -> list[str]:
    """The names of the built-in circuits."""
    return sorted(_BUILTINS)


def parse_qasm(text: str, *, field: str = "circuit") -> QuantumCircuit:
    """Parse OpenQASM 2 or 3 text, telling the version from its header."""
    header = text.lstrip()[:64]
    try:
        if header.startswith("OPENQASM 3"):
            return qasm3.loads(text)
        return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:  # both parsers raise their own types, with a location
        raise InvalidInputError(field, f"malformed OpenQASM: {exc}") from None


def _parse_builtin(spec: str, field: str) -> NamedCircuit:
    name, *args = spec.split(":")
    entry = _BUILTINS.get(name)
    if entry is None:
        raise InvalidInputError(
            field,
            f"unknown built-in circuit {spec!r}; expected one of "
            f"{', '.join(builtin_names())} (as name:width), an OpenQASM file, or OpenQASM text",
        )
    factory, min_width, max_args = entry
    if len(args) > max_args or (max_args and not args):
        raise InvalidInputError(field, f"{spec!r}: expected {name}:<width>")
    try:
        numbers = [int(a) for a in args]
    except ValueError:
        raise InvalidInputError(field, f"{spec!r}: arguments must be integers") from None
    if numbers and not min_width <= numbers[0] <= MAX_BUILTIN_WIDTH:
        raise InvalidInputError(
            field, f"{spec!r}: width must be between {min_width} and {MAX_BUILTIN_WIDTH}"
        )
    if len(numbers) > 1 and not 1 <= numbers[1] <= 50:
        raise InvalidInputError(field, f"{spec!r}: layers must be between 1 and 50")
    circuit = factory(*numbers)
    width = circuit.num_qubits
    outcomes = {"0" * width} | ({"1" * width} if name in ("ghz", "bell") else set())
    return NamedCircuit(spec, circuit, frozenset(outcomes))


def resolve_circuit(spec: str | QuantumCircuit, *, field: str = "circuits[0]") -> NamedCircuit:
    """Turn a circuit, a built-in name, a QASM path or QASM text into a named circuit."""
    if isinstance(spec, QuantumCircuit):
        return NamedCircuit(spec.name or field, spec)
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInputError(field, "expected a QuantumCircuit, a built-in name or OpenQASM")
    text = spec.strip()
    if text.startswith("OPENQASM"):
        return NamedCircuit(field, parse_qasm(text, field=field))
    if text.endswith((".qasm", ".qasm3")) or "/" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise InvalidInputError(field, f"no such OpenQASM file: {text}")
        return NamedCircuit(path.name, parse_qasm(path.read_text(), field=field))
    return _parse_builtin(text, field)
