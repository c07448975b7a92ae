"""``QuantumEstimator``: Qiskit's EstimatorV2 on the fleet, through the scheduler.

One ``run()`` is one batch: every parameter set of every pub, times the measurement groups
it needs, times the ZNE scale factors, executed with one ``execute`` per distinct shot
count (one, unless pubs ask for different precisions). ``precision=0`` gives exact values
on the ideal simulator (statevector), as Qiskit's ``StatevectorEstimator`` does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseEstimatorV2
from qiskit.primitives.containers import DataBin, EstimatorPubLike, PrimitiveResult, PubResult
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.quantum_info import SparsePauliOp, Statevector

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.fleet import SimulatedQPU
from prefect_quantum.mitigation import parse_mitigation, rem, zne
from prefect_quantum.observables import GroupReadout, MeasurementPlan

from .base import RuntimePrimitive
from .compile import MeasurementVariant, compile_body, measurement_variant
from .grouping import Grouping, GroupingCache
from .job import QuantumJob
from .options import PrimitiveOptions
from .runtime import Iteration


@dataclass
class _Pub:
    """A pub laid out for one batch: which circuits it adds and where its counts are."""

    pub: EstimatorPub
    shots: int
    grouping: Grouping
    param_index: np.ndarray
    observables: np.ndarray
    values: np.ndarray
    variants: dict[int, MeasurementVariant] = field(default_factory=dict)
    positions: dict[tuple[tuple[int, ...], int], int] = field(default_factory=dict)
    """(parameter index, group) -> batch position of its first scale."""
    batch_size: int = 0


class QuantumEstimator(RuntimePrimitive, BaseEstimatorV2):
    """Expectation values of Pauli observables on the shared fleet (Qiskit EstimatorV2).

    Takes a :class:`PrimitiveOptions` or its fields as keywords, e.g.
    ``QuantumEstimator(scheduler=block, tenant="chem-team", mitigation="zne")``. Results
    carry ``evs``/``stds`` (mitigated) and ``raw_evs``/``raw_stds`` (unmitigated); their
    metadata says device, backend kind, calibration snapshot and mitigation. Close it (or
    use it as a context manager) to release its scheduler session.
    """

    def __init__(self, options: PrimitiveOptions | None = None, **kwargs: Any) -> None:
        self._start(options, kwargs, "quantum-estimator")
        self._mitigation = parse_mitigation(self._options.mitigation, self._options.zne)
        self._groupings = GroupingCache()

    def run(
        self, pubs: Iterable[EstimatorPubLike], *, precision: float | None = None
    ) -> QuantumJob[PrimitiveResult[PubResult]]:
        """Submit ``pubs``; the job's ``result()`` waits for the batch."""
        if precision is None:
            precision = self._options.default_precision
        coerced = [EstimatorPub.coerce(pub, precision) for pub in pubs]
        for i, pub in enumerate(coerced):
            if pub.precision is None or pub.precision < 0:
                raise ValueError(f"pub {i}: precision must be >= 0, got {pub.precision}")
        return self._runtime.submit(self._run, coerced)

    # --- one run -------------------------------------------------------------------------

    def _run(self, pubs: list[EstimatorPub]) -> PrimitiveResult[PubResult]:
        laid_out = [self._lay_out(pub) for pub in pubs]
        width = max((p.pub.circuit.num_qubits for p in laid_out), default=1)
        shots = max((p.shots for p in laid_out), default=1)
        count = sum(len(p.grouping.groups) * p.param_index.size for p in laid_out)
        scales = len(self._mitigation.zne.scale_factors) if self._mitigation.uses_zne else 1
        with self._runtime.iteration(width, max(shots, 1), max(count * scales, 1)) as it:
            results, executed, qpu_s = self._execute(laid_out, it)
        metadata = {
            "version": 2, **it.metadata(self._mitigation.technique),
            "circuits_executed": executed, "qpu_seconds": qpu_s,
        }
        return PrimitiveResult(results, metadata=metadata)

    def _lay_out(self, pub: EstimatorPub) -> _Pub:
        param_shape = pub.parameter_values.shape
        indices = np.fromiter(np.ndindex(param_shape), dtype=object).reshape(param_shape)
        bc_index, bc_obs = np.broadcast_arrays(indices, np.asarray(pub.observables))
        labels = frozenset(label for obs in bc_obs.flat for label in obs)
        values = pub.parameter_values.as_array(pub.circuit.parameters)
        assert pub.precision is not None
        shots = 0 if pub.precision == 0 else math.ceil(1.0 / pub.precision**2)
        return _Pub(pub, shots, self._groupings.get(labels), bc_index, bc_obs, values)

    def _execute(
        self, pubs: list[_Pub], it: Iteration
    ) -> tuple[list[PubResult], int, float]:
        backend = it.backend
        by_shots: dict[int, list[_Pub]] = {}
        for p in pubs:
            by_shots.setdefault(p.shots, []).append(p)
        counts: dict[int, list[dict[str, int]]] = {}
        executed, qpu_s = 0, 0.0
        for shots, group in by_shots.items():
            if shots == 0:
                if not backend.runner.ideal:
                    raise InvalidInputError(
                        "precision", f"precision 0 (exact) needs the ideal simulator, not "
                        f"{backend.runner.name}")
                continue
            batch = [c for p in group for c in self._bind(p, backend.target)]
            if not batch:  # identity observables only
                counts[shots] = []
                continue
            execution = backend.runner.execute(batch, shots, seed=it.seed, chunk_shots=shots)
            counts[shots] = execution.counts
            executed, qpu_s = executed + len(batch), qpu_s + execution.qpu_seconds
        results = []
        offsets = dict.fromkeys(by_shots, 0)
        for p in pubs:
            if p.shots == 0:
                results.append(self._exact(p))
                continue
            start = offsets[p.shots]
            end = offsets[p.shots] = start + p.batch_size
            results.append(self._values(p, counts[p.shots][start:end], backend.runner))
        return results, executed, qpu_s

    def _bind(self, p: _Pub, device: SimulatedQPU) -> list[QuantumCircuit]:
        """The bound circuits of one pub, in batch order; fills ``positions``."""
        opts = self._options
        seed, level = opts.seed or 0, opts.optimization_level
        circuit = p.pub.circuit
        needed: dict[tuple[int, ...], set[int]] = {}
        for index in np.ndindex(*p.param_index.shape):
            groups = needed.setdefault(p.param_index[index], set())
            groups.update(p.grouping.group_of[lab] for lab in p.observables[index]
                          if lab in p.grouping.group_of)
        zne_config = self._mitigation.zne if self._mitigation.uses_zne else None
        body = compile_body(self._runtime.cache, circuit, device, seed=seed, level=level)
        batch: list[QuantumCircuit] = []
        for param_index, groups in needed.items():
            values = p.values[param_index]
            for g in sorted(groups):
                variant = p.variants.get(g)
                if variant is None:
                    group = p.grouping.groups[g]
                    variant = p.variants[g] = measurement_variant(
                        self._runtime.cache, circuit, body, device, group.basis, group.support,
                        zne_config, seed=seed, level=level,
                    )
                p.positions[param_index, g] = len(batch)
                batch.extend(c.bind(values) for c in variant.scaled)
        p.batch_size = len(batch)
        return batch

    def _values(
        self, p: _Pub, counts: list[dict[str, int]], runner: SimulatedQPU
    ) -> PubResult:
        mit = self._mitigation
        use_rem = mit.uses_rem and not runner.ideal
        shape = p.param_index.shape
        evs, stds = np.zeros(shape), np.zeros(shape)
        raw_evs, raw_stds = np.zeros(shape), np.zeros(shape)
        confusion = {g: _confusion(runner, v) for g, v in p.variants.items()} if use_rem else {}
        scales = len(mit.zne.scale_factors) if mit.uses_zne else 1
        for index in np.ndindex(*shape):
            offset, readouts = p.grouping.readouts(p.observables[index])
            param_index = p.param_index[index]
            groups = sorted(readouts)
            per_scale = []
            for k in range(scales):
                group_counts = [counts[p.positions[param_index, g] + k] for g in groups]
                per_scale.append(_value(offset, groups, readouts, group_counts,
                                        [confusion[g] for g in groups] if use_rem else None))
            raw = _value(offset, groups, readouts,
                         [counts[p.positions[param_index, g]] for g in groups], None)
            raw_evs[index], raw_stds[index] = raw
            if mit.uses_zne:
                evs[index] = zne.combine_results([v for v, _ in per_scale], mit.zne)
                stds[index] = zne.propagate_stderr([e for _, e in per_scale], mit.zne)
            else:
                evs[index], stds[index] = per_scale[0]
        data = DataBin(evs=evs, stds=stds, raw_evs=raw_evs, raw_stds=raw_stds, shape=shape)
        return PubResult(data, metadata={
            "target_precision": p.pub.precision, "shots": p.shots,
            "circuit_metadata": p.pub.circuit.metadata,
            "measurement_groups": len(p.grouping.groups),
        })

    def _exact(self, p: _Pub) -> PubResult:
        shape = p.param_index.shape
        evs = np.zeros(shape)
        body = p.pub.circuit.remove_final_measurements(inplace=False)
        assert body is not None
        states: dict[tuple[int, ...], Statevector] = {}
        for index in np.ndindex(*shape):
            param_index = p.param_index[index]
            state = states.get(param_index)
            if state is None:
                bound = body.assign_parameters(p.values[param_index]) if body.parameters else body
                state = states[param_index] = Statevector(bound)
            obs = p.observables[index]
            op = SparsePauliOp(list(obs), np.array(list(obs.values()), dtype=complex))
            evs[index] = float(np.real(state.expectation_value(op)))
        zeros = np.zeros(shape)
        data = DataBin(evs=evs, stds=zeros, raw_evs=evs.copy(), raw_stds=zeros.copy(),
                       shape=shape)
        return PubResult(data, metadata={
            "target_precision": 0.0, "shots": 0, "exact": True,
            "circuit_metadata": p.pub.circuit.metadata,
        })


def _value(
    offset: float,
    groups: list[int],
    readouts: dict[int, GroupReadout],
    counts: list[dict[str, int]],
    confusion: list[list[np.ndarray]] | None,
) -> tuple[float, float]:
    if not groups:
        return offset, 0.0
    # Only the number of circuits of a plan is read when valuing counts.
    placeholders = cast(list[QuantumCircuit], [None] * len(groups))
    plan = MeasurementPlan(placeholders, [readouts[g] for g in groups], offset)
    return plan.value(counts, confusion)


def _confusion(runner: SimulatedQPU, variant: MeasurementVariant) -> list[np.ndarray]:
    qubits = [runner.calibration.qubits[q] for q in variant.physical_qubits]
    return rem.confusion_matrices(
        [q.prob_meas1_prep0 for q in qubits], [q.prob_meas0_prep1 for q in qubits]
    )
