"""Small problems for variational loops: spin models, H2, MaxCut, and their ansatz circuits.

Pauli labels follow Qiskit's order (qubit 0 is the rightmost character).
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import SparsePauliOp

from prefect_quantum.errors import InvalidInputError

# H2 at 0.735 Å, STO-3G, parity mapping with two-qubit reduction (Hartree, electronic part).
_H2_TERMS = (
    ("II", -1.052373245772859),
    ("IZ", 0.39793742484318045),
    ("ZI", -0.39793742484318045),
    ("ZZ", -0.01128010425623538),
    ("XX", 0.18093119978423156),
)


def _label(num_qubits: int, paulis: dict[int, str]) -> str:
    return "".join(paulis.get(q, "I") for q in reversed(range(num_qubits)))


def tfim_hamiltonian(num_qubits: int = 4, j: float = 1.0, h: float = 1.0) -> SparsePauliOp:
    """Open-chain transverse-field Ising model ``-J Σ Z_i Z_{i+1} - h Σ X_i``."""
    if num_qubits < 2:
        raise InvalidInputError("num_qubits", "the Ising chain needs at least 2 sites")
    terms = [(_label(num_qubits, {i: "Z", i + 1: "Z"}), -j) for i in range(num_qubits - 1)]
    terms += [(_label(num_qubits, {i: "X"}), -h) for i in range(num_qubits)]
    return SparsePauliOp.from_list(terms)


def h2_hamiltonian() -> SparsePauliOp:
    """H2 in a minimal basis on two qubits (ground energy -1.857275 Ha, electronic)."""
    return SparsePauliOp.from_list(list(_H2_TERMS))


def exact_ground_energy(hamiltonian: SparsePauliOp) -> float:
    """The lowest eigenvalue, by dense diagonalisation (small models only)."""
    if hamiltonian.num_qubits > 14:
        raise InvalidInputError("hamiltonian", "too many qubits for exact diagonalisation")
    return float(np.linalg.eigvalsh(hamiltonian.to_matrix())[0])


def hardware_efficient_ansatz(num_qubits: int, reps: int = 2) -> QuantumCircuit:
    """RY layers with all-to-all CX entanglement (real amplitudes suit real Hamiltonians)."""
    return real_amplitudes(num_qubits, reps=reps, entanglement="full")


def default_graph() -> nx.Graph:
    """A 3-regular graph on 6 nodes (maximum cut 9, two optimal bitstrings)."""
    return nx.random_regular_graph(3, 6, seed=1)


def maxcut_hamiltonian(graph: nx.Graph) -> SparsePauliOp:
    """``Σ_(u,v) w/2 Z_u Z_v``: its energy ``E`` gives the cut ``W/2 - E`` (``W`` total weight)."""
    nodes = _nodes(graph)
    n = len(nodes)
    terms = [
        (_label(n, {nodes[u]: "Z", nodes[v]: "Z"}), 0.5 * float(data.get("weight", 1.0)))
        for u, v, data in graph.edges(data=True)
    ]
    if not terms:
        raise InvalidInputError("graph", "the graph has no edges")
    return SparsePauliOp.from_list(terms)


def total_weight(graph: nx.Graph) -> float:
    """Sum of edge weights (1 per unweighted edge)."""
    return float(sum(d.get("weight", 1.0) for _, _, d in graph.edges(data=True)))


def cut_value(graph: nx.Graph, bitstring: str) -> float:
    """Weight of the edges cut by ``bitstring`` (Qiskit order: node 0 is the last character)."""
    nodes = _nodes(graph)
    side = {node: bitstring[-1 - i] for node, i in nodes.items()}
    return float(sum(d.get("weight", 1.0) for u, v, d in graph.edges(data=True)
                     if side[u] != side[v]))


def max_cut(graph: nx.Graph) -> tuple[float, frozenset[str]]:
    """The maximum cut and every bitstring achieving it, by brute force (small graphs)."""
    n = graph.number_of_nodes()
    if n > 20:
        raise InvalidInputError("graph", "brute-force MaxCut is for graphs up to 20 nodes")
    values = {
        "".join(bits): cut_value(graph, "".join(bits)) for bits in itertools.product("01", repeat=n)
    }
    best = max(values.values())
    return best, frozenset(b for b, v in values.items() if v == best)


def qaoa_ansatz(graph: nx.Graph, reps: int = 2) -> QuantumCircuit:
    """QAOA for MaxCut: ``|+>^n``, then per layer ``exp(-iγ H_C)`` and ``exp(-iβ Σ X)``.

    Parameters are ``γ[0..p-1]`` then ``β[0..p-1]`` (Qiskit sorts them by name).
    """
    nodes = _nodes(graph)
    gamma, beta = ParameterVector("γ", reps), ParameterVector("β", reps)
    qc = QuantumCircuit(len(nodes), name="qaoa")
    qc.h(range(len(nodes)))
    for layer in range(reps):
        for u, v, data in graph.edges(data=True):
            qc.rzz(gamma[layer] * float(data.get("weight", 1.0)), nodes[u], nodes[v])
        for q in range(len(nodes)):
            qc.rx(2 * beta[layer], q)
    return qc


def qaoa_initial_point(reps: int) -> np.ndarray:
    """A linear ramp (annealing-like): γ rises, β falls; in ``qaoa_ansatz`` parameter order."""
    t = (np.arange(reps) + 0.5) / reps
    betas, gammas = 0.8 * (1 - t), 0.8 * t
    # Parameters sort as β[0..p-1], γ[0..p-1] (β < γ in Unicode order).
    return np.concatenate([betas, gammas])


def _nodes(graph: nx.Graph) -> dict[object, int]:
    return {node: i for i, node in enumerate(sorted(graph.nodes()))}
