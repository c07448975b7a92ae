"""Hypothesis strategies for bad (and good) input, and the checks every case must pass.

Each invalid strategy draws a :class:`Case`: what to call, and the field its error must
name. :func:`refused` runs a case and says whether it was refused correctly (our
:class:`~prefect_quantum.errors.InvalidInputError`, or pydantic's ValidationError for a
Block, naming the field and saying what was expected). The tests in this directory and
``benchmarks/_badinput.py`` share these, so the benchmark's counts are the tests' cases.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from prefect_quantum.errors import InvalidInputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "circuits"
SEEDS: tuple[str, ...] = tuple(
    sorted(p.read_text() for p in EXAMPLES.glob("*.qasm*"))
) or ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0], q[1];\n',)
"""Valid OpenQASM seeds for the mutation fuzzer (examples/circuits)."""

INJECTIONS: tuple[str, ...] = (
    "'; DROP TABLE requests;--",
    "x; DROP TABLE pq_requests",
    "\" OR 1=1 --",
    "{{ 7*7 }}",
    "${jndi:ldap://x}",
    "$(rm -rf /)",
    "`rm -rf /`",
    "../../etc/passwd",
    "..",
    "/etc/passwd",
    "C:\\Windows\\system32",
    "<script>alert(1)</script>",
    "%s%s%n",
    "a\nb",
    "tenant\r\nX-Injected: 1",
    "\x00",
    "a\x00b",
    "\u202eevil",
    "\u200b",
    "😀",
    "ﬁ",
    "ａｄｍｉｎ",
    "аdmin",  # Cyrillic a
    "é",
    "\t",
    " ",
    "",
)
"""Strings that look like injections, path traversals, templates or unicode tricks."""

EXPECTATION = re.compile(
    r"expected|should|must|at most|at least|only|needs|not allowed|not supported|unknown"
    r"|no such|bind|nest|larger than|deeper|expands|cannot|malformed|characters|qubits",
    re.IGNORECASE,
)
"""Words saying what was expected; every refusal message has one."""


@dataclass(frozen=True)
class Case:
    """One input: ``run()`` performs it; ``field`` is what its error must name."""

    kind: str
    field: str
    run: Callable[[], Any] = field(repr=False)
    shown: str = ""


# -- generic nasty values --------------------------------------------------------------

CONTROL = st.characters(min_codepoint=0, max_codepoint=31)
ODD_UNICODE = st.sampled_from(
    ["\u202e", "\u200f", "\u200b", "\ufeff", "😀", "🧪", "é", "ß", "İ", "Ω", "\u0301", "\x7f",
     "\U0010ffff", "\ud7ff", "中", "ا"]
)
POISON = st.one_of(CONTROL, ODD_UNICODE, st.sampled_from(list(" '\";$<>{}()|&`*?!@#%^=+[],~\\")))
"""One character no name may hold."""


def poisoned_text(max_size: int = 30) -> st.SearchStrategy[str]:
    """Text holding at least one character outside ``[A-Za-z0-9_.-]``."""
    return st.builds(
        lambda a, p, b: a + p + b,
        st.text(max_size=max_size), POISON, st.text(max_size=max_size),
    )


def long_text(min_size: int = 65) -> st.SearchStrategy[str]:
    """Over-long strings, up to a megabyte, of a repeated valid character."""
    return st.builds(lambda n, c: c * n, st.integers(min_size, 1_000_000),
                     st.sampled_from(["a", "Z", "9", "é"]))


BAD_STRINGS = st.one_of(st.sampled_from(INJECTIONS), poisoned_text(), long_text())
WRONG_TYPES = st.sampled_from(
    [None, 1, -1, 0, 1.5, math.nan, True, False, b"bytes", [], {}, (), {"a": 1}, ["a"], 1j,
     object()]
)
BAD_NUMBERS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -1, -1e-9, 0, 0.0, -(10**30), True,
                     False, "1", "1e3", None, "nan"]),
    st.integers(max_value=-1),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not math.isfinite(x) or x < 0),
)


# -- names ----------------------------------------------------------------------------------

NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def valid_names() -> st.SearchStrategy[str]:
    """Names following the one name rule (1-64 of [A-Za-z0-9._-], no leading ._-)."""
    return st.builds(
        lambda a, b: a + b,
        st.sampled_from(NAME_ALPHABET),
        st.text(alphabet=NAME_ALPHABET + "._-", max_size=63),
    )


def invalid_names() -> st.SearchStrategy[Any]:
    """Anything but a name: bad characters, empty, too long, leading '.', '-' or '_',
    a trailing newline, look-alike unicode, injections, wrong types."""
    return st.one_of(
        BAD_STRINGS,
        st.builds(lambda s: "." + s, valid_names()),
        st.builds(lambda s: "-" + s, valid_names()),
        st.builds(lambda s: "_" + s, valid_names()),
        st.builds(lambda s: s + "\n", valid_names()),
        st.builds(lambda s: s + "x" * 64, valid_names()),
        st.builds(lambda a, p, b: a + p + b, valid_names(), POISON, st.text(
            alphabet=NAME_ALPHABET, max_size=5)),
        WRONG_TYPES.filter(lambda v: not isinstance(v, str)),
    )


# -- circuits and QASM ------------------------------------------------------------------

def valid_circuit_specs() -> st.SearchStrategy[str]:
    """Built-ins and QASM seeds a job accepts (small, so building them is fast)."""
    return st.one_of(
        st.builds(lambda n: f"ghz:{n}", st.integers(2, 12)),
        st.builds(lambda n, layers: f"hea:{n}:{layers}", st.integers(1, 6), st.integers(1, 3)),
        st.builds(lambda n: f"hea:{n}", st.integers(1, 6)),
        st.just("bell"),
        st.sampled_from(SEEDS),
        st.builds(lambda s, pad: pad + s + pad, st.sampled_from(["ghz:3", "bell"]),
                  st.sampled_from([" ", "\t", "\n", ""])),
    )


QASM2_HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
QASM3_HEAD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def _nested_gates(depth: int, version: int = 2) -> str:
    """Gates each calling the previous twice: 2**depth operations."""
    body = (QASM2_HEAD + "qreg q[1];\n" if version == 2 else QASM3_HEAD + "qubit[1] q;\n")
    body += "gate g0 a { x a; x a; }\n"
    for i in range(1, depth):
        body += f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n"
    return body + f"g{depth - 1} q[0];\n"


def invalid_qasm() -> st.SearchStrategy[str]:
    """OpenQASM a job must refuse: huge registers, includes of other files, deep nesting,
    over-long text, NUL, non-finite or unbound parameters, control flow, exploding gate
    definitions, no qubits, unknown gates, garbage after the header."""
    big = st.integers(4097, 10**12)
    return st.one_of(
        st.builds(lambda n: QASM2_HEAD + f"qreg q[{n}];\n", big),
        st.builds(lambda n: QASM2_HEAD + f"qreg q[2];\ncreg c[{n}];\n", big),
        st.builds(lambda n: QASM3_HEAD + f"qubit[{n}] q;\n", big),
        st.builds(lambda n: QASM3_HEAD + f"qubit[{hex(n)}] q;\n", big),
        st.builds(lambda n: QASM3_HEAD + f"qubit[{n:_}] q;\n", big),
        st.builds(lambda a, b: QASM3_HEAD + f"qubit[{a}*{b}] q;\n",
                  st.integers(2, 10**4), st.integers(2, 10**4)),
        st.just(QASM3_HEAD + "qubit[2**40] q;\n"),
        st.just(QASM3_HEAD + "array[int[32], 99999999] a;\nqubit[1] q;\n"),
        st.builds(lambda n: QASM2_HEAD + f"qreg q[{n}];\nh q[0];\n", st.integers(157, 4096)),
        st.builds(lambda n: QASM2_HEAD + f"qreg q[/*c*/{n}];\n", big),
        st.builds(lambda p: f'OPENQASM 2.0;\ninclude "{p}";\nqreg q[1];\n',
                  st.sampled_from(["/etc/passwd", "../../etc/passwd", "x.inc", "qelib1.inc ",
                                   "", "/dev/zero", "/proc/self/environ", "stdgates.inc\x00"])),
        st.builds(lambda p: f'OPENQASM 3.0;\ninclude "{p}";\nqubit[1] q;\n',
                  st.sampled_from(["/etc/passwd", "self.qasm", "qelib1.inc/../x"])),
        st.just("OPENQASM 3.0;\ninclude;\nqubit[1] q;\n"),
        st.builds(lambda n: QASM2_HEAD + "qreg q[1];\nrz(" + "(" * n + "1" + ")" * n
                  + ") q[0];\n", st.integers(65, 5000)),
        st.builds(lambda n: QASM3_HEAD + "qubit[1] q;\nrz(" + "(" * n + "1" + ")" * n
                  + ") q[0];\n", st.integers(65, 5000)),
        st.builds(lambda n: QASM2_HEAD + "qreg q[1];\n" + "h q[0];\n" * n,
                  st.integers(25_000, 60_000)),
        st.builds(lambda n: "OPENQASM 2.0;" + " " * n, st.integers(200_000, 400_000)),
        st.just(QASM2_HEAD + "qreg q[1];\nh q[0];\x00\n"),
        st.builds(lambda v: QASM2_HEAD + f"qreg q[1];\nrz({v}) q[0];\n",
                  st.sampled_from(["1e400", "-1e400", "1e400-1e400", "0/0", "1/0", "pi/0"])),
        st.just(QASM3_HEAD + "input float theta;\nqubit[1] q;\nrz(theta) q[0];\n"),
        st.just(QASM3_HEAD + "qubit[1] q;\nbit[1] c;\nc[0] = measure q[0];\n"
                "if (c[0]) { x q[0]; }\n"),
        st.just(QASM3_HEAD + "qubit[1] q;\nfor uint i in [0:100] { x q[0]; }\n"),
        st.builds(_nested_gates, st.integers(20, 80)),
        st.builds(_nested_gates, st.integers(13, 80), st.just(3)),
        st.builds(lambda n: QASM3_HEAD + "gate g a { x a; x a; }\nqubit[1] q;\n"
                  + "g q[0];\n" * n, st.integers(100_001, 110_000)),
        st.just(QASM2_HEAD),
        st.just(QASM3_HEAD + "bit[2] c;\n"),
        st.builds(lambda g: QASM2_HEAD + f"qreg q[2];\n{g} q[0];\n", st.sampled_from(
            ["frobnicate", "DROP", "h'", "ℎ", "h\u202e"])),
        st.builds(lambda s: "OPENQASM 2.0;" + s, BAD_STRINGS),
        st.builds(lambda s: "OPENQASM 3.0;" + s, st.sampled_from(INJECTIONS)),
        st.builds(lambda v: f"OPENQASM {v};\nqreg q[1];\n",
                  st.sampled_from(["9.0", "2.0.0", "-1", "nan", "2.0 2.0"])),
    )


def invalid_circuit_specs() -> st.SearchStrategy[Any]:
    """Anything a ``circuits`` entry may not be: bad built-ins and arguments, paths that
    are not ``.qasm`` files, injections, wrong types, invalid QASM and circuit objects."""
    return st.one_of(
        st.builds(lambda n: f"ghz:{n}", st.one_of(st.integers(max_value=1),
                                                   st.integers(min_value=157))),
        st.builds(lambda n, layers: f"hea:{n}:{layers}", st.integers(1, 6),
                  st.one_of(st.integers(max_value=0), st.integers(min_value=51))),
        st.builds(lambda n: f"hea:{n}", st.one_of(st.integers(max_value=0),
                                                 st.integers(min_value=157))),
        st.sampled_from(["ghz", "ghz:", "ghz:3:1", "bell:2", "hea:", "hea:4:2:1", "ghz:+5",
                         "ghz:٥", "ghz:1_0", "ghz: 5", "ghz:0x5", "ghz:5.0",
                         "ghz:1e1", "ghz:nan", "ghz:-3", "GHZ:3", "Bell", "ghz::3", ":3",
                         "missing.qasm", "nope/x.qasm", "../../etc/passwd", "/etc/passwd",
                         "/dev/zero", "~/.ssh/id_rsa", "\\\\server\\share", "x" * 5000 + ".qasm",
                         "a\x00.qasm", "OPENQASM", "openqasm 2.0; qreg q[1];"]),
        BAD_STRINGS,
        invalid_qasm(),
        WRONG_TYPES.filter(lambda v: not isinstance(v, str)),
        st.builds(_bad_circuit_object, st.integers(0, 5)),
    )


def _bad_circuit_object(kind: int) -> Any:
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(max(kind, 1))
    if kind == 0:
        return QuantumCircuit(0)
    if kind == 1:
        qc.rz(Parameter("theta"), 0)
    elif kind == 2:
        qc.rz(math.nan, 0)
    elif kind == 3:
        return QuantumCircuit(157)
    elif kind == 4:
        qc = QuantumCircuit(2, 1)
        qc.measure(0, 0)
        qc.h(0)
    else:
        qc.rx(math.inf, 0)
    return qc


def qasm_mutants() -> st.SearchStrategy[str]:
    """Valid QASM seeds mutated: bytes flipped, deleted, duplicated, spliced with nasty
    tokens; most are invalid, some still parse."""
    tokens = st.sampled_from(
        ["qreg q[99999999];", "qubit[99999999] q;", "[", "]", "(", ")", "{", "}", ";", "//",
         "/*", "*/", '"', 'include "/etc/passwd";', "1e400", "pi", "-", "gate g a { g a; }",
         "\x00", "😀", "\u202e", "OPENQASM 3.0;", "OPENQASM 2.0;", "measure q -> c;",
         "if(c==1) x q[0];", "reset q[0];", "barrier q;", "U(0,0,0) q[0];", "q[0]", "0x10",
         "4097", "99999999999999999999", "\n", " ", "input float t;", "rz(t) q[0];"]
    )
    mutation = st.tuples(st.integers(0, 5), st.floats(0, 1), st.integers(1, 64), tokens,
                         st.characters())

    def apply(seed: str, muts: list[tuple[int, float, int, str, str]]) -> str:
        text = seed
        for op, where, length, token, char in muts:
            i = int(where * len(text))
            if op == 0:
                text = text[:i] + token + text[i:]
            elif op == 1:
                text = text[:i] + text[i + length:]
            elif op == 2:
                text = text[:i] + char + text[i + 1:]
            elif op == 3:
                text = text[:i] + text[i:i + length] * 3 + text[i + length:]
            elif op == 4:
                text = text[:i] + token * length + text[i:]
            else:
                text = text[i:] + text[:i]
        return text

    return st.builds(apply, st.sampled_from(SEEDS), st.lists(mutation, min_size=1, max_size=6))


# -- job requests ------------------------------------------------------------------------

def valid_options() -> st.SearchStrategy[dict[str, Any]]:
    """JobOptions fields within range (any subset)."""
    return st.fixed_dictionaries({}, optional={
        "devices": st.one_of(st.none(), st.lists(st.sampled_from(
            ["ibm_fez", "ibm_torino", "ibm_kyiv"]), min_size=1, max_size=3, unique=True)
            .map(tuple)),
        "compliance_domain": st.one_of(st.none(), valid_names()),
        "max_wait_s": st.floats(0, 7 * 86400),
        "fallback": st.sampled_from(["noisy", "ideal", "none"]),
        "seed": st.integers(0, 2**31 - 1),
        "optimization_level": st.integers(0, 3),
        "chunk_shots": st.integers(1, 1_000_000),
        "checkpoint_interval_s": st.floats(0, 3600),
        "calibration_max_age_s": st.floats(1e-3, 365 * 86400),
        "job_id": st.one_of(st.none(), valid_names()),
        "zne": st.fixed_dictionaries({}, optional={
            "scale_factors": st.sampled_from([(1.0, 3.0), (1.0, 3.0, 5.0), (1, 3, 5, 7)]),
            "factory": st.sampled_from(["richardson", "linear"]),
        }),
    })


@st.composite
def valid_job_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of ``JobRequest.build`` that must be accepted."""
    specs = draw(st.lists(valid_circuit_specs(), min_size=1, max_size=4))
    kwargs: dict[str, Any] = {"circuits": specs if draw(st.booleans()) or len(specs) > 1
                              else specs[0]}
    if draw(st.booleans()):
        import numpy as np

        shots = draw(st.integers(1, 10_000_000))
        kwargs["shots"] = np.int64(shots) if draw(st.booleans()) else shots
    kwargs["mitigation"] = draw(st.sampled_from(["none", "zne", "rem", "zne+rem"]))
    kwargs["tenant"] = draw(valid_names())
    kwargs["priority"] = draw(st.sampled_from(["low", "normal", "high", "urgent"]))
    kwargs["options"] = draw(valid_options())
    if draw(st.booleans()):
        kwargs["observables"] = None
    return kwargs


_OPTION_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "devices": st.one_of(
        st.lists(invalid_names(), min_size=1, max_size=3).map(tuple),
        st.just(tuple(f"d{i}" for i in range(65))),
        st.sampled_from(["ibm_fez", 5, {"ibm_fez": 1}]),
    ),
    "compliance_domain": invalid_names().filter(lambda v: v is not None),
    "max_wait_s": st.one_of(BAD_NUMBERS.filter(lambda v: v not in (0, 0.0)),
                            st.floats(7 * 86400 + 1, 1e300)),
    "fallback": st.one_of(BAD_STRINGS, WRONG_TYPES, st.just("NOISY")),
    "seed": st.one_of(BAD_NUMBERS.filter(lambda v: v not in (0, 0.0)),
                      st.integers(2**31, 2**64), st.just(3.0)),
    "optimization_level": st.one_of(st.integers(max_value=-1), st.integers(min_value=4),
                                    st.sampled_from([1.0, True, "2", None])),
    "chunk_shots": st.one_of(BAD_NUMBERS, st.integers(1_000_001, 10**12)),
    "checkpoint_interval_s": st.one_of(BAD_NUMBERS.filter(lambda v: v not in (0, 0.0)),
                                       st.floats(3600.5, 1e300)),
    "calibration_max_age_s": st.one_of(BAD_NUMBERS, st.floats(366 * 86400, 1e300)),
    "job_id": invalid_names().filter(lambda v: v is not None),
    "zne": st.one_of(
        st.builds(lambda s: {"scale_factors": s}, st.one_of(
            st.sampled_from([(), (1.0,), (1.0, math.nan), (1.0, math.inf), (0.5, 3.0),
                             (-1.0, 3.0), (1.0, 1e9), (1.0, 3.0) * 9, "135", None,
                             (1.0, "3"), (True, 3.0)]),
        )),
        st.builds(lambda f: {"factory": f}, st.one_of(BAD_STRINGS, WRONG_TYPES)),
        st.builds(lambda f: {"folding": f}, st.one_of(BAD_STRINGS, WRONG_TYPES)),
        st.just({"unknown": 1}),
        st.sampled_from(["zne", 1, [1.0, 3.0]]),
    ),
    "deadline": st.sampled_from([0, -1, math.nan, "tomorrow", 1e12]),
    "constraints": st.sampled_from([{"min_qubits": 5}, [], "qpu"]),
}


@st.composite
def invalid_job_cases(draw: st.DrawFn) -> Case:
    """A valid request with exactly one field made invalid; the error must name it."""
    from prefect_quantum.job import JobRequest

    kwargs = draw(valid_job_kwargs())
    kwargs["mitigation"] = "zne" if draw(st.booleans()) else kwargs["mitigation"]
    which = draw(st.sampled_from(
        ["circuits", "circuits", "shots", "observables", "mitigation", "tenant", "priority",
         "options", "options", "options"]
    ))
    expect = which
    if which == "circuits":
        bad = draw(invalid_circuit_specs())
        shape = draw(st.integers(0, 3))
        if shape == 0 and not isinstance(bad, str):
            kwargs["circuits"] = bad if bad is not None else []
        else:
            kwargs["circuits"] = ["ghz:2"] * (shape % 3) + [bad]
        if draw(st.booleans()):
            kwargs["circuits"] = draw(st.sampled_from([[], (), set(), "", "   ", None,
                                                       ["ghz:2"] * 1001, {"ghz:2": 1},
                                                       [QASM2_HEAD + " " * 150_000] * 14]))
    elif which == "shots":
        kwargs["shots"] = draw(st.one_of(BAD_NUMBERS, st.integers(10_000_001, 10**30),
                                         st.just(100.0), st.just("100")))
    elif which == "observables":
        kwargs["circuits"] = ["ghz:3", "bell"]
        kwargs["observables"] = draw(st.one_of(
            st.sampled_from(["", "ZZ", "ZZZZ", "ZQZ", "Z Z", ["ZZZ"], ["ZZZ", "ZZ", "Z"],
                             ["ZZZ", 5], 5, b"ZZZ", {"ZZZ": 1}, ["ZZ", "ZZ"]]),
            BAD_STRINGS,
        ))
        expect = "observables"
    elif which == "mitigation":
        kwargs["mitigation"] = draw(st.one_of(BAD_STRINGS, WRONG_TYPES, st.sampled_from(
            ["ZNE", "zne+", "rem+zne", "none "])))
    elif which == "tenant":
        kwargs["tenant"] = draw(invalid_names())
    elif which == "priority":
        kwargs["priority"] = draw(st.one_of(BAD_STRINGS, WRONG_TYPES, st.sampled_from(
            ["asap", "URGENT", "critical", "0", "3"])))
    else:
        name = draw(st.sampled_from(sorted(_OPTION_FIELDS)))
        value = draw(_OPTION_FIELDS[name])
        if draw(st.integers(0, 9)) == 0:
            kwargs["options"] = draw(st.sampled_from(["seed=1", 5, [("seed", 1)], b"{}"]))
        else:
            kwargs["options"] = {**kwargs["options"], name: value}
            expect = f"options.{name}"
        if name == "zne" and not kwargs["mitigation"].startswith("zne") and isinstance(
                value, dict) and ("scale_factors" in value and value["scale_factors"] in (
                    (1.0, 1e9), (0.5, 3.0))):
            kwargs["mitigation"] = "zne"
    circuits = kwargs.pop("circuits")
    return Case("job_request", expect, lambda: JobRequest.build(circuits, **kwargs),
                shown=f"{expect}={_short(kwargs.get(which, circuits))}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 120 else text[:120] + "..."


def circuit_cases() -> st.SearchStrategy[Case]:
    """Invalid circuit specs, QASM text and circuit objects for ``resolve_circuit``."""
    from prefect_quantum.circuits import resolve_circuit

    return invalid_circuit_specs().map(lambda spec: Case(
        "circuit", "circuits[0]", lambda: resolve_circuit(spec, field="circuits[0]"),
        shown=_short(spec)))


def qasm_cases() -> st.SearchStrategy[Case]:
    """Invalid OpenQASM for ``parse_qasm``."""
    from prefect_quantum.circuits import parse_qasm

    return invalid_qasm().map(lambda text: Case(
        "qasm", "circuits", lambda: parse_qasm(text, field="circuits"), shown=_short(text)))


def circuit_parameter_cases() -> st.SearchStrategy[Case]:
    """Bad built-in arguments and gate parameters (non-finite, unbound, out of range)."""
    from prefect_quantum.circuits import resolve_circuit

    specs = st.one_of(
        st.builds(lambda n: f"ghz:{n}", st.one_of(st.integers(-(10**6), 1),
                                                   st.integers(157, 10**30))),
        st.builds(lambda w, layers: f"hea:{w}:{layers}", st.integers(1, 8),
                  st.one_of(st.integers(-5, 0), st.integers(51, 10**9))),
        st.builds(lambda v: QASM2_HEAD + f"qreg q[1];\nu3({v},0,0) q[0];\n",
                  st.sampled_from(["1e400", "-1e999", "1e400*0", "0/0", "theta", "pi/0"])),
        st.builds(lambda v: QASM3_HEAD + f"qubit[1] q;\nrx({v}) q[0];\n",
                  st.sampled_from(["1e400", "theta", "1/0"])),
        st.builds(_bad_circuit_object, st.sampled_from([1, 2, 5])),
    )
    return specs.map(lambda spec: Case(
        "circuit_param", "circuits[0]", lambda: resolve_circuit(spec, field="circuits[0]"),
        shown=_short(spec)))


def tenant_cases() -> st.SearchStrategy[Case]:
    """Invalid tenant names, through the one rule and through a job request."""
    from prefect_quantum.job import JobRequest
    from prefect_quantum.names import check_tenant

    def case(name: Any, via_job: bool) -> Case:
        if via_job:
            return Case("tenant", "tenant", lambda: JobRequest.build("ghz:2", tenant=name),
                        shown=_short(name))
        return Case("tenant", "tenant", lambda: check_tenant(name), shown=_short(name))

    return st.builds(case, invalid_names(), st.booleans())


# -- CLI ---------------------------------------------------------------------------------

def valid_cli_args() -> st.SearchStrategy[list[str]]:
    """``prefect-quantum run`` arguments that pass validation."""
    return st.builds(
        lambda specs, shots, mit, tenant, prio, seed, fallback, obs: [
            "run", *specs, "--shots", str(shots), "--mitigation", mit, "--tenant", tenant,
            "--priority", prio, "--seed", str(seed), "--fallback", fallback, *obs],
        st.lists(st.sampled_from(["ghz:2", "bell", "hea:2:1", str(EXAMPLES / "bell.qasm")]),
                 min_size=1, max_size=3),
        st.integers(1, 10_000_000), st.sampled_from(["none", "zne", "rem", "zne+rem"]),
        valid_names().filter(lambda s: not s.startswith("-")),
        st.sampled_from(["low", "normal", "high", "urgent"]), st.integers(0, 2**31 - 1),
        st.sampled_from(["noisy", "ideal", "none"]),
        st.sampled_from([[], ["--observable", "ZZ"], ["--device", "ibm_fez"]]),
    )


FLEET_NAMES = frozenset(
    {"ibm_strasbourg", "ibm_brussels", "ibm_kyiv", "ibm_torino", "ibm_fez", "ibm_kawasaki",
     "strasbourg", "brussels", "kyiv", "torino", "fez", "kawasaki"}
)


def _cli_text(value: Any) -> str:
    text = str(value)
    return text.replace("\x00", "")  # argv cannot carry NUL


@st.composite
def invalid_cli_cases(draw: st.DrawFn) -> tuple[list[str], str]:
    """``prefect-quantum run`` arguments with one bad input, and the name the error must
    give (the option or the field)."""
    base = {"circuits": ["ghz:2"], "--shots": "100", "--mitigation": "none",
            "--tenant": "cli-tenant", "--priority": "normal", "--seed": "1",
            "--fallback": "noisy"}
    which = draw(st.sampled_from(["circuits", "--shots", "--mitigation", "--tenant",
                                  "--priority", "--seed", "--fallback", "--observable",
                                  "--device"]))
    needle = which.lstrip("-")
    if which == "circuits":
        bad = draw(invalid_circuit_specs().filter(
            lambda v: isinstance(v, str) and "\x00" not in v))  # argv cannot carry NUL
        base["circuits"] = [bad]
    elif which in ("--shots", "--seed"):
        base[which] = draw(st.one_of(
            st.sampled_from(["0", "-4", "lots", "1e3", "1.5", "nan", "inf", "",
                             "99999999999999999999999", "0x10", "5 5"]),
            st.integers(max_value=-1).map(str),
        ).filter(lambda v: which == "--shots" or v != "0"))
    elif which == "--observable":
        base[which] = draw(st.one_of(st.sampled_from(["ZQ", "Z", "ZZZ", "", "zz z"]),
                                     BAD_STRINGS.map(_cli_text)))
    elif which == "--device":
        base[which] = draw(st.one_of(invalid_names().filter(lambda v: isinstance(v, str))
                                     .map(_cli_text), st.just("ibm_atlantis"))
                           .filter(lambda v: v.strip().lower() not in FLEET_NAMES))
        needle = "device"
    else:
        base[which] = _cli_text(draw(invalid_names().filter(lambda v: isinstance(v, str))))
        if which == "--tenant" and base[which] and is_valid_name(base[which]):
            base[which] += " "
    circuits = base.pop("circuits")
    args = ["run"]
    for option, value in base.items():
        args.append(f"{option}={value}")
    return [*args, "--", *circuits], "circuits" if which == "circuits" else needle


def is_valid_name(value: str) -> bool:
    from prefect_quantum.names import is_name

    return is_name(value)


# -- blocks --------------------------------------------------------------------------------

BLOCK_FLOATS_POSITIVE = ("default_share", "half_life_s", "calibration_max_age_s", "lease_ttl_s")
BLOCK_FLOATS_NON_NEGATIVE = ("preemption_grace_s", "min_run_s", "weight_time",
                             "weight_fidelity", "retry_backoff_s", "retry_jitter_factor")


@st.composite
def invalid_block_cases(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """(block class name, fields, the field its ValidationError must name)."""
    which = draw(st.sampled_from(
        ["positive", "non_negative", "shares", "priority_classes", "retries",
         "max_preemptions_per_job", "fallback", "fleet.devices", "fleet.month",
         "fleet.time_scale", "fleet.compliance", "store_url"]))
    if which == "positive":
        name = draw(st.sampled_from(BLOCK_FLOATS_POSITIVE))
        return "QuantumScheduler", {name: draw(st.one_of(BAD_NUMBERS, st.just(0.0)))}, name
    if which == "non_negative":
        name = draw(st.sampled_from(BLOCK_FLOATS_NON_NEGATIVE))
        value = draw(BAD_NUMBERS.filter(lambda v: v not in (0, 0.0)))
        return "QuantumScheduler", {name: value}, name
    if which == "shares":
        shares = draw(st.one_of(
            st.builds(lambda t: {t: 1.0}, invalid_names().filter(
                lambda v: isinstance(v, str))),
            st.builds(lambda v: {"chem": v}, BAD_NUMBERS),
            st.sampled_from([[("a", 1.0)], "a=1", 5]),
        ))
        return "QuantumScheduler", {"shares": shares}, "shares"
    if which == "priority_classes":
        classes = draw(st.one_of(
            st.just({}),
            st.builds(lambda n: {n: 1}, invalid_names().filter(lambda v: isinstance(v, str))),
            st.builds(lambda v: {"low": 0, "high": v}, st.sampled_from(
                [1.5, True, "2", None, -1, 10**9, math.nan])),
        ))
        return "QuantumScheduler", {"priority_classes": classes}, "priority_classes"
    if which in ("retries", "max_preemptions_per_job"):
        value = draw(st.one_of(st.integers(max_value=-1), st.sampled_from(
            [True, 1.5, "3", None, math.nan, 10**9])))
        return "QuantumScheduler", {which: value}, which
    if which == "fallback":
        return "QuantumScheduler", {"fallback": draw(st.one_of(BAD_STRINGS, WRONG_TYPES))}, \
            "fallback"
    if which == "store_url":
        return "QuantumScheduler", {"store_url": draw(st.sampled_from(
            ["", "not a url", "'; DROP TABLE requests;--", "sqlite:///\x00", 5, ["x"]]))}, \
            "store_url"
    name = which.removeprefix("fleet.")
    if name == "devices":
        value: Any = draw(st.one_of(
            st.just([]),
            st.lists(invalid_names().filter(lambda v: isinstance(v, str)), min_size=1,
                     max_size=2),
            st.just(["ibm_atlantis"]), st.just("ibm_fez"), st.just(["ibm_fez", "ibm_fez"]),
        ))
    elif name == "month":
        value = draw(st.one_of(BAD_STRINGS, st.just("04_2025"), WRONG_TYPES))
    elif name == "time_scale":
        value = draw(st.one_of(BAD_NUMBERS.filter(lambda v: v not in (0, 0.0)),
                               st.floats(1001, 1e308)))
    else:
        value = draw(st.one_of(
            st.builds(lambda d: {d: ["ibm_fez"]}, invalid_names().filter(
                lambda v: isinstance(v, str))),
            st.builds(lambda d: {"fedramp": [d]}, st.one_of(
                invalid_names().filter(lambda v: isinstance(v, str)), st.just("ibm_atlantis"),
                st.just("ibm_marrakesh"))),
            st.just({"fedramp": "ibm_fez"}),
        ))
    return "QuantumFleet", {name: value}, name


def valid_block_fields() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """Block fields that must be accepted."""
    scheduler = st.fixed_dictionaries({}, optional={
        "shares": st.dictionaries(valid_names(), st.floats(1e-6, 1e6), max_size=3),
        "default_share": st.floats(1e-6, 1e6),
        "half_life_s": st.floats(1.0, 1e9),
        "preemption_grace_s": st.floats(0, 1e6),
        "min_run_s": st.floats(0, 1e6),
        "retries": st.integers(0, 50),
        "max_preemptions_per_job": st.integers(0, 100),
        "weight_time": st.floats(0.1, 10),
        "fallback": st.sampled_from(["noisy", "ideal", "none"]),
        "lease_ttl_s": st.floats(0.1, 1e5),
        "retry_backoff_s": st.floats(0, 600),
        "retry_jitter_factor": st.floats(0, 1),
        "priority_classes": st.just({"low": 0, "normal": 1, "high": 2, "urgent": 3}),
    }).map(lambda f: ("QuantumScheduler", f))
    fleet = st.fixed_dictionaries({}, optional={
        "devices": st.lists(st.sampled_from(["ibm_fez", "ibm_torino", "ibm_kyiv",
                                             "ibm_brussels"]), min_size=1, max_size=4,
                            unique=True),
        "month": st.sampled_from(["01_2025", "02_2025", "03_2025"]),
        "time_scale": st.floats(0, 10),
        "compliance": st.just({"fedramp": ["ibm_fez"]}),
    }).map(lambda f: ("QuantumFleet", f if "compliance" not in f else
                      {**f, "devices": sorted({*f.get("devices", ["ibm_fez"]), "ibm_fez"})}))
    return st.one_of(scheduler, fleet)


# -- scheduler store -----------------------------------------------------------------------

@st.composite
def invalid_store_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """(Request fields, payload, field): one bad field of a request submitted to the store."""
    fields: dict[str, Any] = {"job_id": "job-1", "tenant": "chem", "priority_class": 1,
                              "submitted_at": 0.0, "work_s": 1.0, "num_qubits": 2}
    payload: dict[str, Any] | None = None
    which = draw(st.sampled_from(["tenant", "priority_class", "work_s", "num_qubits",
                                  "max_wait_s", "deadline", "shots_done", "payload",
                                  "compliance_domain", "allowed_devices", "job_id"]))
    if which == "tenant":
        fields["tenant"] = draw(invalid_names())
    elif which == "priority_class":
        fields["priority_class"] = draw(st.sampled_from([7, -1, "high", 1.0, True, None]))
    elif which == "work_s":
        fields["work_s"] = draw(st.sampled_from([math.nan, math.inf, -1.0]))
    elif which == "num_qubits":
        fields["num_qubits"] = draw(st.integers(max_value=0))
    elif which == "max_wait_s":
        fields["max_wait_s"] = draw(st.sampled_from([math.nan, -1.0, -math.inf]))
    elif which == "deadline":
        fields["deadline"] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    elif which == "shots_done":
        fields.update(shots_done=draw(st.sampled_from([-1, 5])), shots_total=2)
    elif which == "payload":
        payload = draw(st.sampled_from([{"x": math.nan}, {"x": object()}, {"x": {1, 2}},
                                        {"x": math.inf}]))
    elif which == "compliance_domain":
        fields["compliance_domain"] = draw(invalid_names().filter(lambda v: v is not None))
    elif which == "allowed_devices":
        fields["allowed_devices"] = frozenset(
            [draw(invalid_names().filter(lambda v: isinstance(v, str)))])
    else:
        fields["job_id"] = draw(st.sampled_from(["", "x" * 300, "a\x00b", "a\nb"]))
    return fields, payload, which


# -- the check -----------------------------------------------------------------------------

def refusal_problem(exc: BaseException | None, field_name: str) -> str | None:
    """None when ``exc`` is a proper refusal naming ``field_name``; else what is wrong."""
    from pydantic import ValidationError

    if exc is None:
        return "accepted"
    if isinstance(exc, InvalidInputError):
        if not exc.field.startswith(field_name):
            return f"names {exc.field!r}, expected {field_name!r}: {exc}"
        if field_name not in str(exc) and not str(exc).startswith(exc.field):
            return f"message does not name {field_name!r}: {exc}"
    elif isinstance(exc, ValidationError):
        # A field's own error has it in its location; a whole-model check names it first.
        named = [e for e in exc.errors() if (e["loc"] and str(e["loc"][0]) == field_name)
                 or (not e["loc"] and f"{field_name}:" in e["msg"])]
        if not named:
            return f"ValidationError names {[e['loc'] for e in exc.errors()]}, " \
                   f"expected {field_name!r}"
    else:
        return f"{type(exc).__name__}: {exc}"
    if not EXPECTATION.search(str(exc)):
        return f"message does not say what was expected: {exc}"
    return None


def refused(case: Case) -> str | None:
    """Run ``case``: None when refused properly, else what went wrong."""
    try:
        case.run()
    except Exception as exc:
        return refusal_problem(exc, case.field)
    return refusal_problem(None, case.field)
