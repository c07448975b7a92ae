"""Wide heavy-hex test devices with native gate sets, test circuits, and helpers over
transpiled circuits."""

from __future__ import annotations

from functools import cache

import numpy as np
from qiskit import QuantumCircuit
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.quantum_info import Operator
from qiskit.transpiler import CouplingMap

HEAVY_HEX = CouplingMap.from_heavy_hex(7)  # 115 qubits, like the 127-156 qubit IBM devices


@cache
def ecr_device() -> GenericBackendV2:
    return GenericBackendV2(
        HEAVY_HEX.size(), basis_gates=["ecr", "rz", "sx", "x"], coupling_map=HEAVY_HEX, seed=1
    )


@cache
def cz_device() -> GenericBackendV2:
    return GenericBackendV2(
        HEAVY_HEX.size(), basis_gates=["cz", "rz", "sx", "x"], coupling_map=HEAVY_HEX, seed=2
    )


def ghz(n: int) -> QuantumCircuit:
    qc = QuantumCircuit(n)
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    return qc


def mirror_ansatz(n: int, layers: int, seed: int) -> QuantumCircuit:
    """Seeded hardware-efficient RY/RZ + CX layers followed by their inverse: ideally
    all zeros."""
    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(n)
    for _ in range(layers):
        for q in range(n):
            qc.ry(rng.uniform(0, 2 * np.pi), q)
            qc.rz(rng.uniform(0, 2 * np.pi), q)
        for q in range(n - 1):
            qc.cx(q, q + 1)
    return qc.compose(qc.inverse())


def measured_qubits(transpiled: QuantumCircuit) -> list[int]:
    """The physical qubit measured into each clbit."""
    by_clbit = {
        transpiled.find_bit(i.clbits[0]).index: transpiled.find_bit(i.qubits[0]).index
        for i in transpiled.data
        if i.operation.name == "measure"
    }
    return [by_clbit[j] for j in range(transpiled.num_clbits)]


def active_qubits(circuit: QuantumCircuit) -> list[int]:
    return sorted(
        {
            circuit.find_bit(q).index
            for i in circuit.data
            if i.operation.name not in ("barrier", "measure")
            for q in i.qubits
        }
    )


def compact_operator(circuit: QuantumCircuit, qubits: list[int]) -> Operator:
    """The unitary of ``circuit``'s gates restricted to ``qubits`` (which must hold every
    gate), measurements and barriers dropped."""
    position = {q: i for i, q in enumerate(qubits)}
    small = QuantumCircuit(len(qubits), global_phase=circuit.global_phase)
    for inst in circuit.data:
        if inst.operation.name in ("barrier", "measure"):
            continue
        small.append(inst.operation, [position[circuit.find_bit(q).index] for q in inst.qubits])
    return Operator(small)
