from __future__ import annotations

import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

from prefect_quantum.circuits import ghz, mirror_hea, resolve_circuit
from prefect_quantum.errors import InvalidInputError, PermanentError


def _ideal_probs(circuit: QuantumCircuit) -> dict[str, float]:
    return Statevector(circuit.remove_final_measurements(inplace=False)).probabilities_dict()


def test_ghz_has_two_ideal_outcomes() -> None:
    probs = _ideal_probs(ghz(4))
    assert probs == pytest.approx({"0000": 0.5, "1111": 0.5})


@pytest.mark.parametrize("width,layers", [(1, 1), (5, 2), (8, 3)])
def test_mirror_hea_returns_to_all_zeros(width: int, layers: int) -> None:
    probs = _ideal_probs(mirror_hea(width, layers))
    assert probs["0" * width] == pytest.approx(1.0)


def test_mirror_hea_is_seeded() -> None:
    assert mirror_hea(4, seed=1) == mirror_hea(4, seed=1)
    assert mirror_hea(4, seed=1) != mirror_hea(4, seed=2)


def test_resolves_builtins_files_text_and_circuits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert resolve_circuit("ghz:5").circuit.num_qubits == 5
    assert resolve_circuit("hea:3:4").name == "hea:3:4"
    assert resolve_circuit("bell").circuit.num_qubits == 2
    path = tmp_path / "x.qasm"
    path.write_text('OPENQASM 2.0; include "qelib1.inc"; qreg q[3]; h q[0];')
    assert resolve_circuit(str(path)).circuit.num_qubits == 3
    qasm3 = 'OPENQASM 3.0; include "stdgates.inc"; qubit[2] q; h q[0]; cx q[0], q[1];'
    assert resolve_circuit(qasm3).circuit.num_qubits == 2
    qc = QuantumCircuit(2, name="mine")
    assert resolve_circuit(qc).name == "mine"


@pytest.mark.parametrize(
    "spec,needle",
    [
        ("ghz:0", "width"),
        ("ghz:9999", "width"),
        ("nope:3", "unknown built-in"),
        ("ghz:x", "integers"),
        ("ghz", "ghz:<width>"),
        ("OPENQASM 2.0; qreg q[2]; h q[0];", "malformed OpenQASM"),
        ("OPENQASM 3.0; qubit[2] q; frobnicate q[0];", "malformed OpenQASM"),
        ("missing/file.qasm", "no such OpenQASM file"),
        ("   ", "expected a QuantumCircuit"),
    ],
)
def test_bad_circuit_specs_name_the_field(spec: str, needle: str) -> None:
    with pytest.raises(InvalidInputError, match=needle) as info:
        resolve_circuit(spec, field="circuits[3]")
    assert info.value.field == "circuits[3]"
    assert isinstance(info.value, PermanentError)
