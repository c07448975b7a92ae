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
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit import Barrier, ControlFlowOp, Instruction, ParameterExpression
from qiskit.circuit.library import get_standard_gate_name_mapping

from prefect_quantum.errors import CircuitTooWideError, InvalidInputError
from prefect_quantum.names import shown
from prefect_quantum.observables import check_final_measurements

MAX_BUILTIN_WIDTH = 156
"""The widest device of the default fleet; wider circuits can never run."""
MAX_CIRCUIT_WIDTH = MAX_BUILTIN_WIDTH
"""The widest circuit a job may hold, whatever its source."""
MAX_QASM_CHARS = 200_000
"""The longest OpenQASM text (or file) parsed; the QASM 3 parser reads ~50 kB/s."""
MAX_QASM_INTEGER = 4096
"""The largest integer inside ``[...]`` (register sizes, indices, type widths) before
parsing, so ``qreg q[99999999];`` is refused without allocating its qubits."""
MAX_QASM_NESTING = 64
"""The deepest nesting of brackets, parentheses and braces before parsing."""
MAX_GATE_NESTING = 64
"""The deepest chain of custom gate definitions."""
MAX_EXPANDED_OPS = 200_000
"""The most operations a circuit may expand to once its custom gates are inlined."""
MAX_GATE_DEFINITION_OPS = 4096
"""The most operations one custom gate definition may expand to."""
ALLOWED_INCLUDES = frozenset({"qelib1.inc", "stdgates.inc"})
"""The only files OpenQASM text may include: the standard gate libraries."""
_MAX_SPEC_CHARS = 4096


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


_HEADER = re.compile(r"\s*OPENQASM\s+[0-9]{1,3}(\.[0-9]{1,3})?\s*;")
_COMMENT = re.compile(r"//[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL)
_INCLUDE = re.compile(r'\binclude\b\s*("[^"\n]*")?')
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_BRACKET_CONTENT = re.compile(r"[A-Za-z0-9_\s,:\-]*")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_])[0-9][A-Za-z0-9_]*")
_INTEGER = re.compile(r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[0-9][0-9_]*")


def _integer_value(token: str) -> int | None:
    if _INTEGER.fullmatch(token) is None:
        return None
    base = {"x": 16, "o": 8, "b": 2}.get(token[1:2].lower(), 10) if len(token) > 1 else 10
    digits = token[2:] if base != 10 else token
    return int(digits.replace("_", "") or "0", base)


def _guard_qasm(text: str, field: str) -> None:
    """Refuse, before parsing, what the parsers would take too long or too much memory
    for, and any file include beyond the standard gate libraries."""
    if len(text) > MAX_QASM_CHARS:
        raise InvalidInputError(
            field, f"OpenQASM text of {len(text)} characters; at most {MAX_QASM_CHARS}"
        )
    if "\x00" in text:
        raise InvalidInputError(field, "malformed OpenQASM: NUL character")
    if _HEADER.match(text) is None:
        raise InvalidInputError(
            field, f"malformed OpenQASM: expected a header such as 'OPENQASM 2.0;', got "
            f"{shown(text.lstrip()[:40])}"
        )
    code = _COMMENT.sub(" ", text)
    for match in _INCLUDE.finditer(code):
        name = (match.group(1) or '""')[1:-1]
        if name not in ALLOWED_INCLUDES:
            raise InvalidInputError(
                field, f"include {shown(name)} is not allowed; only {sorted(ALLOWED_INCLUDES)}"
            )
    depth = deepest = 0
    for bracket in re.finditer(r"[\[({]|[\])}]", code):
        depth = max(depth + (1 if bracket.group() in "[({" else -1), 0)
        deepest = max(deepest, depth)
    if deepest > MAX_QASM_NESTING:
        raise InvalidInputError(
            field, f"brackets nest {deepest} deep; at most {MAX_QASM_NESTING}"
        )
    _guard_gate_expansion(code, field)
    while True:  # innermost [...] first, so nested ones are all seen
        groups = list(_BRACKET.finditer(code))
        if not groups:
            return
        for group in groups:
            content = group.group(1)
            if _BRACKET_CONTENT.fullmatch(content) is None:
                raise InvalidInputError(
                    field, f"[{shown(content)[1:-1]}]: sizes and indices must be integer "
                    "literals or names"
                )
            for token in _NUMBER.findall(content):
                value = _integer_value(token)
                if value is None or value > MAX_QASM_INTEGER:
                    raise InvalidInputError(
                        field, f"[{shown(content)[1:-1]}]: sizes and indices must be integers "
                        f"up to {MAX_QASM_INTEGER}"
                    )
        code = _BRACKET.sub(" ", code)


_GATE_DEFINITION = re.compile(r"\bgate\s+([A-Za-z_]\w*)[^{};]*\{([^{}]*)\}")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _guard_gate_expansion(code: str, field: str) -> None:
    """Refuse nested custom gates that expand to more than ``MAX_EXPANDED_OPS``
    operations, estimated from the text: the QASM 3 importer builds every expansion."""
    sizes: dict[str, int] = {}

    def statement_size(statement: str) -> int:
        return max(1, sum(sizes.get(name, 0) for name in _IDENTIFIER.findall(statement)))

    for match in _GATE_DEFINITION.finditer(code):
        size = sum(statement_size(st) for st in match.group(2).split(";") if st.strip())
        if size > MAX_GATE_DEFINITION_OPS:
            raise InvalidInputError(
                field, f"gate {match.group(1)!r} expands to more than "
                f"{MAX_GATE_DEFINITION_OPS} operations; expected a smaller definition"
            )
        sizes[match.group(1)] = size
    if sizes:
        top = _GATE_DEFINITION.sub(" ", code)
        if sum(statement_size(st) for st in top.split(";") if st.strip()) > MAX_EXPANDED_OPS:
            raise InvalidInputError(
                field, f"expands to more than {MAX_EXPANDED_OPS} operations"
            )


def parse_qasm(text: str, *, field: str = "circuit") -> QuantumCircuit:
    """Parse OpenQASM 2 or 3 text, telling the version from its header, and check the
    circuit (:func:`check_circuit`); anything wrong raises InvalidInputError naming
    ``field``."""
    if not isinstance(text, str):
        raise InvalidInputError(field, f"expected OpenQASM text, got {type(text).__name__}")
    _guard_qasm(text, field)
    header = text.lstrip()[:64]
    try:
        if header.startswith("OPENQASM 3"):
            circuit = qasm3.loads(text)
        else:
            circuit = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # each parser has its own types; qasm2's Rust may panic
        detail = str(exc)
        detail = detail if len(detail) <= 300 else f"{detail[:300]}..."
        raise InvalidInputError(field, f"malformed OpenQASM: {detail}") from None
    return check_circuit(circuit, field=field)


@cache
def _standard_types() -> frozenset[type]:
    """Qiskit's standard gates: never expanded, their definitions are small and fixed."""
    return frozenset({type(g) for g in get_standard_gate_name_mapping().values()} | {Barrier})


def _check_params(op: Instruction, field: str) -> None:
    for value in op.params:
        if isinstance(value, ParameterExpression):
            continue  # unbound parameters are refused at the top level
        if isinstance(value, int | float | complex) and not math.isfinite(abs(value)):
            raise InvalidInputError(
                field, f"gate {op.name!r} has parameter {value!r}; expected a finite number"
            )


def _expanded_size(op: Instruction, field: str, memo: dict[tuple[str, int], int],
                   depth: int = 0) -> int:
    """How many operations ``op`` becomes once custom gates are inlined (standard gates
    count 1); refuses non-finite parameters, control flow and over-deep definitions."""
    _check_params(op, field)
    if isinstance(op, ControlFlowOp):
        raise InvalidInputError(field, f"control flow ({op.name}) is not supported")
    if op.base_class in _standard_types() or op.name in ("measure", "reset", "delay"):
        return 1
    key = (op.name, op.num_qubits)
    if key in memo:
        return memo[key]
    if depth >= MAX_GATE_NESTING:
        raise InvalidInputError(
            field, f"custom gate definitions nest deeper than {MAX_GATE_NESTING}"
        )
    # QASM custom gates carry their definitions (qasm2 builds them lazily); anything else
    # counts as given, as building its definition may mean synthesis (a UnitaryGate).
    lazy = type(op).__name__ == "_DefinedGate"
    definition = op.definition if lazy else getattr(op, "_definition", None)
    size = 1
    if definition is not None:
        size = 0
        for inst in definition.data:
            size += _expanded_size(inst.operation, field, memo, depth + 1)
            if size > MAX_EXPANDED_OPS:
                break
    memo[key] = size
    return size


def check_circuit(circuit: QuantumCircuit, *, field: str = "circuit") -> QuantumCircuit:
    """``circuit`` when a job can run it: 1 to ``MAX_CIRCUIT_WIDTH`` qubits, no unbound
    parameters, measured only at the end, finite gate parameters, no control flow, and at most
    ``MAX_EXPANDED_OPS`` operations with its custom gates inlined."""
    if circuit.num_qubits < 1:
        raise InvalidInputError(field, "a circuit needs at least one qubit")
    if circuit.num_qubits > MAX_CIRCUIT_WIDTH:
        raise CircuitTooWideError(
            field, f"{circuit.num_qubits} qubits; at most {MAX_CIRCUIT_WIDTH}"
        )
    if circuit.parameters:
        names = ", ".join(p.name for p in list(circuit.parameters)[:5])
        raise InvalidInputError(field, f"bind the circuit's parameters first ({names})")
    memo: dict[tuple[str, int], int] = {}
    total = 0
    for inst in circuit.data:
        total += _expanded_size(inst.operation, field, memo)
        if total > MAX_EXPANDED_OPS:
            raise InvalidInputError(
                field, f"expands to more than {MAX_EXPANDED_OPS} operations"
            )
    check_final_measurements(circuit, field=field)  # copies: after the expansion bound
    return circuit


def _parse_builtin(spec: str, field: str) -> NamedCircuit:
    name, *args = spec.split(":")
    entry = _BUILTINS.get(name)
    if entry is None:
        raise InvalidInputError(
            field,
            f"unknown built-in circuit {shown(spec)}; expected one of "
            f"{', '.join(builtin_names())} (as name:width), an OpenQASM file (.qasm, .qasm3), "
            "or OpenQASM text starting with 'OPENQASM'",
        )
    factory, min_width, max_args = entry
    if len(args) > max_args or (max_args and not args):
        raise InvalidInputError(field, f"{shown(spec)}: expected {name}:<width>")
    if not all(re.fullmatch(r"[0-9]{1,6}", a) for a in args):
        raise InvalidInputError(
            field, f"{shown(spec)}: arguments must be integers (ASCII digits)"
        )
    numbers = [int(a) for a in args]
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
        return NamedCircuit(spec.name or field, check_circuit(spec, field=field))
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInputError(
            field, f"expected a QuantumCircuit, a built-in name or OpenQASM, got {shown(spec)}"
        )
    text = spec.strip()
    if text.startswith("OPENQASM"):
        return NamedCircuit(field, parse_qasm(text, field=field))
    if len(text) > _MAX_SPEC_CHARS:
        raise InvalidInputError(
            field, f"{len(text)} characters: OpenQASM text must start with 'OPENQASM'"
        )
    if text.endswith((".qasm", ".qasm3")):
        return _read_qasm_file(text, field)
    if "/" in text or "\\" in text:
        raise InvalidInputError(
            field, f"{shown(text)}: an OpenQASM file name must end in .qasm or .qasm3"
        )
    return _parse_builtin(text, field)


def _read_qasm_file(text: str, field: str) -> NamedCircuit:
    """The circuit of a ``.qasm``/``.qasm3`` file, size-checked before it is read."""
    path = Path(text).expanduser()
    try:
        size = path.stat().st_size if path.is_file() else None
        source = path.read_text(encoding="utf-8") if size and size <= 4 * MAX_QASM_CHARS else ""
    except (OSError, ValueError) as exc:  # too long a name, NUL, not UTF-8, unreadable
        raise InvalidInputError(
            field, f"cannot read OpenQASM file {shown(text, 200)} ({type(exc).__name__})"
        ) from None
    if size is None:
        raise InvalidInputError(field, f"no such OpenQASM file: {shown(text, 200)}")
    if size > 4 * MAX_QASM_CHARS:
        raise InvalidInputError(field, f"{path.name}: larger than {MAX_QASM_CHARS} characters")
    return NamedCircuit(path.name, parse_qasm(source, field=field))
