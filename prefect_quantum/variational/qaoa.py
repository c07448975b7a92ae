"""QAOA for MaxCut: optimize ``<H_C>`` with the estimator, then sample the final state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from qiskit.circuit import QuantumCircuit

from prefect_quantum.primitives import PrimitiveOptions, QuantumEstimator, QuantumSampler

from .loop import EstimatorEvaluator, LoopConfig, LoopResult, optimize
from .problems import (
    cut_value,
    default_graph,
    max_cut,
    maxcut_hamiltonian,
    qaoa_ansatz,
    qaoa_initial_point,
    total_weight,
)


@dataclass
class QAOAResult:
    """The loop, the sampled final distribution and how often it holds an optimal cut."""

    loop: LoopResult
    graph: nx.Graph
    ansatz: QuantumCircuit
    max_cut: float
    optimal_bitstrings: frozenset[str]
    counts: dict[str, int]
    """Final distribution (node 0 is the last character of each bitstring)."""

    @property
    def shots(self) -> int:
        """Shots of the final sample."""
        return sum(self.counts.values())

    @property
    def p_optimal(self) -> float:
        """Fraction of final samples that are an optimal cut."""
        return sum(self.counts.get(b, 0) for b in self.optimal_bitstrings) / self.shots

    @property
    def best_bitstring(self) -> str:
        """The sampled bitstring with the largest cut."""
        return max(self.counts, key=lambda b: (cut_value(self.graph, b), self.counts[b]))

    @property
    def expected_cut(self) -> float:
        """Mean cut of the final samples."""
        return sum(cut_value(self.graph, b) * n for b, n in self.counts.items()) / self.shots


def run_qaoa(
    graph: nx.Graph | None = None,
    *,
    reps: int = 2,
    config: LoopConfig | None = None,
    precision: float | None = None,
    shots: int = 4096,
    x0: np.ndarray | None = None,
    options: PrimitiveOptions | None = None,
    checkpoint_path: str | Path | None = None,
    **option_overrides: Any,
) -> QAOAResult:
    """Optimize the QAOA angles for MaxCut on ``graph`` (default: a 3-regular 6-node graph).

    The estimator and the final sampler are built from ``options`` and
    ``option_overrides`` and closed at the end; ``shots`` sizes the final sample.
    """
    graph = graph if graph is not None else default_graph()
    config = config or LoopConfig()
    ansatz = qaoa_ansatz(graph, reps)
    hamiltonian = maxcut_hamiltonian(graph)
    start = qaoa_initial_point(reps) if x0 is None else np.asarray(x0, dtype=float)
    with QuantumEstimator(options, **option_overrides) as estimator:
        loop = optimize(EstimatorEvaluator(estimator, ansatz, hamiltonian, precision), start,
                        config, checkpoint_path=checkpoint_path,
                        label=f"qaoa:{reps}:{sorted(graph.edges(data='weight'))}")
    measured = ansatz.copy()
    measured.measure_all()
    with QuantumSampler(options, **{**option_overrides, "mitigation": "none"}) as sampler:
        result = sampler.run([(measured, loop.x)], shots=shots).result()
    counts = result[0].data.meas.get_counts()
    best, optimal = max_cut(graph)
    return QAOAResult(loop, graph, ansatz, best, optimal, counts)


def cut_from_energy(graph: nx.Graph, energy: float) -> float:
    """The expected cut ``W/2 - <H_C>`` for an energy of ``maxcut_hamiltonian(graph)``."""
    return total_weight(graph) / 2 - energy
