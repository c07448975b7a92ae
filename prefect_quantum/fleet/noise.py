"""Aer noise models of a device, restricted to the qubits a batch uses.

``NoiseModel.from_backend`` on a 127-qubit device spends seconds building ~600 errors, and
every ``run()`` with that model then pays ~1.8 s to ship it to C++. Here each error is built
once, lazily, by Aer's own ``basic_device_gate_errors`` / ``basic_device_readout_errors``
(depolarizing composed with T1/T2 thermal relaxation over the gate duration; asymmetric
readout from the measure properties), and a model holding only the errors on a given qubit
set is assembled from them and cached. Noise on qubits a circuit never touches cannot change
its outcome, so the restricted model gives the same counts as the full one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from qiskit.circuit import Delay
from qiskit.transpiler import Target
from qiskit_aer.noise import NoiseModel, QuantumError, ReadoutError
from qiskit_aer.noise.device import basic_device_gate_errors, basic_device_readout_errors
from qiskit_aer.noise.passes import RelaxationNoisePass

_MODEL_CACHE_SIZE = 256

InstructionKey = tuple[str, tuple[int, ...]]


class DeviceNoise:
    """Lazily built per-instruction errors of one device Target, and restricted models."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._gate_errors: dict[InstructionKey, QuantumError] = {}
        self._readout_errors: dict[int, ReadoutError] = {}
        self._built: set[InstructionKey] = set()
        self._models: OrderedDict[frozenset[int], NoiseModel] = OrderedDict()
        self._basis_gates = list(target.operation_names)
        props = target.qubit_properties or []
        # Same T2 truncation as NoiseModel.from_backend (T2 <= 2 T1).
        self._t1s = [p.t1 for p in props]
        self._t2s = [min(p.t2, 2 * p.t1) for p in props]

    def _ensure(self, qubits: frozenset[int]) -> None:
        """Build (once) the errors of every instruction whose qubits all lie in ``qubits``."""
        full = self._target
        # A Target with the same qubit properties holding only the instructions still to build,
        # so Aer's helpers do the work for exactly those.
        todo = Target(
            num_qubits=full.num_qubits, dt=full.dt, qubit_properties=full.qubit_properties
        )
        for name in full.operation_names:
            chosen = {
                qargs: prop
                for qargs, prop in full[name].items()
                if qargs is not None
                and (name, qargs) not in self._built
                and qubits.issuperset(qargs)
            }
            if chosen:
                todo.add_instruction(full.operation_from_name(name), chosen)
                self._built.update((name, qargs) for qargs in chosen)
        for name, qargs, error in basic_device_gate_errors(target=todo):
            self._gate_errors[(name, tuple(qargs))] = error
        for qargs, readout in basic_device_readout_errors(target=todo):
            self._readout_errors[qargs[0]] = readout

    def model(self, qubits: Iterable[int] | None = None) -> NoiseModel:
        """The noise of the instructions on ``qubits`` (all qubits when ``None``).

        Models are cached and shared: treat the result as read-only.
        """
        wanted = frozenset(range(self._target.num_qubits) if qubits is None else qubits)
        with self._lock:
            cached = self._models.get(wanted)
            if cached is not None:
                self._models.move_to_end(wanted)
                return cached
            self._ensure(wanted)
            model = NoiseModel(basis_gates=self._basis_gates)
            for q in sorted(wanted):
                if q in self._readout_errors:
                    model.add_readout_error(self._readout_errors[q], [q])
            for (name, qargs), error in self._gate_errors.items():
                if wanted.issuperset(qargs):
                    model.add_quantum_error(error, name, qargs)
            if self._t1s:
                # Idle (delay) relaxation, as NoiseModel.from_backend adds it. Aer has no public
                # method to attach a custom noise pass, so this uses the same attribute it does.
                model._custom_noise_passes.append(
                    RelaxationNoisePass(
                        t1s=self._t1s,
                        t2s=self._t2s,
                        dt=self._target.dt,
                        op_types=Delay,
                        target=self._target,
                    )
                )
            self._models[wanted] = model
            if len(self._models) > _MODEL_CACHE_SIZE:
                self._models.popitem(last=False)
            return model
