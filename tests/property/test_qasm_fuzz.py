"""A bounded QASM fuzzer: whatever the text, the parser returns a circuit a job can run or
refuses it with InvalidInputError naming ``circuits``; never another exception, never a
hang (issue #7, item 2)."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import QASM2_HEAD, QASM3_HEAD, SEEDS, qasm_mutants

from prefect_quantum.circuits import MAX_CIRCUIT_WIDTH, parse_qasm, resolve_circuit
from prefect_quantum.errors import InvalidInputError

FUZZ = settings(
    max_examples=1000, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
SLOWEST_S = 10.0
"""No input may take longer to parse or refuse (the QASM 3 parser is pure Python)."""

TOKENS = st.sampled_from(
    ["qreg", "creg", "qubit", "bit", "gate", "opaque", "measure", "reset", "barrier", "if",
     "for", "while", "include", "U", "CX", "h", "cx", "rz", "u3", "x", "q", "c", "a", "->",
     "[", "]", "(", ")", "{", "}", ";", ",", ":", "==", "=", "+", "-", "*", "/", "^", "**",
     "pi", "0", "1", "2", "4096", "4097", "99999999", "0x10", "1e400", "1.5", '"qelib1.inc"',
     '"stdgates.inc"', '"other.inc"', "input", "float", "const", "//", "/*", "*/", "\n", " "]
)
"""QASM's own vocabulary, so the fuzzer reaches past the lexer into the grammar."""


def _parses_or_refuses(text: str) -> None:
    started = time.monotonic()
    try:
        circuit = parse_qasm(text, field="circuits")
    except InvalidInputError as exc:
        assert exc.field == "circuits", exc
    else:
        assert 1 <= circuit.num_qubits <= MAX_CIRCUIT_WIDTH
        assert not circuit.parameters
    assert time.monotonic() - started < SLOWEST_S


def test_the_seeds_parse() -> None:
    for seed in SEEDS:
        assert parse_qasm(seed, field="circuits").num_qubits >= 1


@FUZZ
@given(qasm_mutants())
def test_mutated_seeds_parse_or_are_refused(text: str) -> None:
    _parses_or_refuses(text)


@settings(FUZZ, max_examples=500)
@given(st.sampled_from([QASM2_HEAD, QASM3_HEAD]),
       st.lists(TOKENS, max_size=40).map(" ".join))
def test_token_soup_parses_or_is_refused(head: str, body: str) -> None:
    _parses_or_refuses(head + body)


@settings(FUZZ, max_examples=500)
@given(st.sampled_from(["OPENQASM 2.0;", "OPENQASM 3.0;", "OPENQASM 3;", "OPENQASM"]),
       st.text(max_size=200))
def test_arbitrary_text_parses_or_is_refused(head: str, body: str) -> None:
    _parses_or_refuses(head + body)


@settings(FUZZ, max_examples=200)
@given(st.text(max_size=300))
def test_any_circuit_spec_resolves_or_is_refused(spec: str) -> None:
    try:
        named = resolve_circuit(spec, field="circuits[0]")
    except InvalidInputError as exc:
        assert exc.field == "circuits[0]", exc
    else:
        assert 1 <= named.circuit.num_qubits <= MAX_CIRCUIT_WIDTH
