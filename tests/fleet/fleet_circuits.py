"""Circuits shared by the fleet tests."""

from __future__ import annotations

from qiskit import QuantumCircuit


def ghz(n: int) -> QuantumCircuit:
    """GHZ-n with a final measurement of every qubit."""
    circuit = QuantumCircuit(n, name=f"ghz{n}")
    circuit.h(0)
    for i in range(n - 1):
        circuit.cx(i, i + 1)
    circuit.measure_all()
    return circuit
