"""Compile once, bind per call: the transpiled body of a circuit and its measurement variants.

The body (the circuit without final measurements) is transpiled once per device; every
measurement basis is appended to that transpiled body on the physical qubits its layout
ended on, with native gates only (X basis: ``rz(π/2)·sx``; Y basis: ``sx``), so all groups
of an observable share one layout and none is transpiled again. ZNE folds each measurement
circuit once, with its parameters still unbound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from qiskit.circuit import ClassicalRegister, Parameter, QuantumCircuit

from prefect_quantum.fleet import SimulatedQPU, measured_qubits
from prefect_quantum.mitigation import zne
from prefect_quantum.mitigation.zne import ZNEConfig

from .cache import CompileCache


@dataclass(frozen=True)
class Compiled:
    """A transpiled circuit with unbound parameters, and how to bind the logical values."""

    circuit: QuantumCircuit
    parameters: tuple[Parameter, ...]
    """The logical circuit's parameters, in the order values are given."""
    positional: bool
    """Whether ``circuit.parameters`` are exactly ``parameters`` (fast positional binding)."""

    def bind(self, values: np.ndarray) -> QuantumCircuit:
        """The circuit with ``values`` (one per logical parameter) assigned."""
        if not self.parameters:
            return self.circuit
        if self.positional:
            return self.circuit.assign_parameters(values, inplace=False)
        present = set(self.circuit.parameters)
        mapping = {p: float(v) for p, v in zip(self.parameters, values, strict=True)
                   if p in present}
        return self.circuit.assign_parameters(mapping, inplace=False)


@dataclass(frozen=True)
class CompiledBody:
    """The transpiled unitary part of a circuit and where each virtual qubit ended up."""

    compiled: Compiled
    final_layout: tuple[int, ...]


@dataclass(frozen=True)
class MeasurementVariant:
    """A body measured in one basis: one circuit per ZNE scale (one without ZNE)."""

    scaled: tuple[Compiled, ...]
    physical_qubits: tuple[int, ...]
    """The physical qubit measured into each clbit (for readout mitigation)."""


def _wrap(circuit: QuantumCircuit, parameters: tuple[Parameter, ...]) -> Compiled:
    return Compiled(circuit, parameters, tuple(circuit.parameters) == parameters)


def compile_circuit(
    cache: CompileCache, circuit: QuantumCircuit, device: SimulatedQPU, *, seed: int, level: int
) -> Compiled:
    """``circuit`` (measurements included) transpiled for ``device``, once."""

    def build() -> Compiled:
        (transpiled,) = device.transpile([circuit], seed=seed, optimization_level=level)
        return _wrap(transpiled, tuple(circuit.parameters))

    return cache.get(circuit, ("circuit", device.fingerprint, seed, level), build)


def compile_body(
    cache: CompileCache, circuit: QuantumCircuit, device: SimulatedQPU, *, seed: int, level: int
) -> CompiledBody:
    """The unitary part of ``circuit`` transpiled for ``device``, once."""

    def build() -> CompiledBody:
        body = circuit.remove_final_measurements(inplace=False)
        assert body is not None
        (transpiled,) = device.transpile([body], seed=seed, optimization_level=level)
        layout = transpiled.layout
        final = (
            tuple(layout.final_index_layout()) if layout is not None
            else tuple(range(circuit.num_qubits))
        )
        return CompiledBody(_wrap(transpiled, tuple(circuit.parameters)), final)

    return cache.get(circuit, ("body", device.fingerprint, seed, level), build)


def measurement_variant(
    cache: CompileCache,
    circuit: QuantumCircuit,
    body: CompiledBody,
    device: SimulatedQPU,
    basis: str,
    support: Sequence[int],
    zne_config: ZNEConfig | None,
    *,
    seed: int,
    level: int,
) -> MeasurementVariant:
    """``body`` measured on virtual qubits ``support`` in ``basis`` (one of X, Y, Z each)."""

    def build() -> MeasurementVariant:
        measured = body.compiled.circuit.copy()
        creg = ClassicalRegister(len(support), "meas")
        measured.add_register(creg)
        for j, (q, b) in enumerate(zip(support, basis, strict=True)):
            physical = body.final_layout[q]
            if b == "X":
                measured.rz(math.pi / 2, physical)
                measured.sx(physical)
            elif b == "Y":
                measured.sx(physical)
            measured.measure(physical, creg[j])
        variants = [measured] if zne_config is None else zne.construct_circuits(
            [measured], zne_config)
        params = body.compiled.parameters
        return MeasurementVariant(
            tuple(_wrap(c, params) for c in variants), tuple(measured_qubits(measured))
        )

    key = ("measure", device.fingerprint, seed, level, basis, tuple(support), zne_config)
    return cache.get(circuit, key, build)
