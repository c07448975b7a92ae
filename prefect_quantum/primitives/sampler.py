"""``QuantumSampler``: Qiskit's SamplerV2 on the fleet, through the scheduler.

The fleet returns counts, so each pub's ``BitArray`` holds the counted outcomes in a seeded
random shot order (shots are independent, so any order is as good as the device's); every
classical register is read from the same shots.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2
from qiskit.primitives.containers import (
    BitArray,
    DataBin,
    PrimitiveResult,
    SamplerPubLike,
    SamplerPubResult,
)
from qiskit.primitives.containers.sampler_pub import SamplerPub

from prefect_quantum.errors import InvalidInputError

from .base import RuntimePrimitive
from .compile import compile_circuit
from .job import QuantumJob
from .options import PrimitiveOptions
from .runtime import Iteration


class QuantumSampler(RuntimePrimitive, BaseSamplerV2):
    """Bitstrings from the shared fleet (Qiskit SamplerV2).

    Takes a :class:`PrimitiveOptions` or its fields as keywords; ``mitigation`` must be
    ``"none"`` (mitigated values come from :class:`QuantumEstimator`). Close it (or use it
    as a context manager) to release its scheduler session.
    """

    def __init__(self, options: PrimitiveOptions | None = None, **kwargs: Any) -> None:
        self._start(options, kwargs, "quantum-sampler")

    def _check_options(self, options: PrimitiveOptions) -> None:
        if options.mitigation != "none":
            raise InvalidInputError("mitigation", "the sampler returns raw samples: use 'none'")

    def run(
        self, pubs: Iterable[SamplerPubLike], *, shots: int | None = None
    ) -> QuantumJob[PrimitiveResult[SamplerPubResult]]:
        """Submit ``pubs``; the job's ``result()`` waits for the batch."""
        if shots is None:
            shots = self._options.default_shots
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        for i, pub in enumerate(coerced):
            if not pub.circuit.cregs:
                warnings.warn(
                    f"The {i}-th pub's circuit has no output classical registers and so the "
                    "result will be empty. Did you mean to add measurement instructions?",
                    UserWarning, stacklevel=2,
                )
        return self._runtime.submit(self._run, coerced)

    def _run(self, pubs: list[SamplerPub]) -> PrimitiveResult[SamplerPubResult]:
        width = max((p.circuit.num_qubits for p in pubs), default=1)
        total = sum(p.parameter_values.size for p in pubs)
        shots = max((p.shots for p in pubs if p.shots), default=1)
        with self._runtime.iteration(width, shots, max(total, 1)) as it:
            results, executed, qpu_s = self._execute(pubs, it)
        metadata = {"version": 2, **it.metadata("none"), "circuits_executed": executed,
                    "qpu_seconds": qpu_s}
        return PrimitiveResult(results, metadata=metadata)

    def _execute(
        self, pubs: list[SamplerPub], it: Iteration
    ) -> tuple[list[SamplerPubResult], int, float]:
        opts = self._options
        device = it.backend.target
        batches: dict[int, list[QuantumCircuit]] = {}
        spans: list[tuple[int, int]] = []
        for pub in pubs:
            if pub.circuit.num_clbits == 0:
                spans.append((0, 0))
                continue
            assert pub.shots is not None
            compiled = compile_circuit(self._runtime.cache, pub.circuit, device,
                                       seed=opts.seed or 0, level=opts.optimization_level)
            values = pub.parameter_values.as_array(pub.circuit.parameters)
            batch = batches.setdefault(pub.shots, [])
            start = len(batch)
            batch.extend(compiled.bind(values[index])
                         for index in np.ndindex(*pub.parameter_values.shape))
            spans.append((start, len(batch)))
        counts: dict[int, list[dict[str, int]]] = {}
        executed, qpu_s = 0, 0.0
        for shots, batch in batches.items():
            execution = it.backend.runner.execute(batch, shots, seed=it.seed, chunk_shots=shots)
            counts[shots] = execution.counts
            executed, qpu_s = executed + len(batch), qpu_s + execution.qpu_seconds
        rng = np.random.default_rng(it.seed)
        results = []
        for pub, (start, end) in zip(pubs, spans, strict=True):
            shape = pub.parameter_values.shape
            if pub.circuit.num_clbits == 0:
                results.append(SamplerPubResult(DataBin(shape=shape), metadata={
                    "shots": pub.shots, "circuit_metadata": pub.circuit.metadata}))
                continue
            assert pub.shots is not None
            results.append(_pub_result(pub, counts[pub.shots][start:end], shape, rng))
        return results, executed, qpu_s


def _pub_result(
    pub: SamplerPub, counts: list[dict[str, int]], shape: tuple[int, ...],
    rng: np.random.Generator,
) -> SamplerPubResult:
    circuit = pub.circuit
    registers = [(creg.name, creg.size, circuit.find_bit(creg[0]).index if creg.size else 0)
                 for creg in circuit.cregs]
    arrays: dict[str, np.ndarray] = {}
    for flat, index in enumerate(np.ndindex(*shape)):
        outcomes = [int(key.replace(" ", ""), 2) for key in counts[flat]]
        shots = np.repeat(np.arange(len(outcomes)), list(counts[flat].values()))
        order = shots[rng.permutation(len(shots))]
        samples = [outcomes[i] for i in order]
        for name, size, start in registers:
            mask = (1 << size) - 1
            bits = BitArray.from_samples([(s >> start) & mask for s in samples], size)
            if name not in arrays:
                arrays[name] = np.zeros((*shape, *bits.array.shape), dtype=np.uint8)
            arrays[name][index] = bits.array
    data = {name: BitArray(arrays[name], size) for name, size, _ in registers}
    return SamplerPubResult(
        DataBin(**data, shape=shape),
        metadata={"shots": pub.shots, "circuit_metadata": circuit.metadata},
    )
