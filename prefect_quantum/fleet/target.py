"""The Qiskit ``Target`` of a calibration snapshot, and a ``BackendV2`` around it.

Only operational qubits get instructions, and only working couplers (error < 1 between two
operational qubits) get the two-qubit gate, so the transpiler routes around broken hardware.
Readout carries both conditional flip probabilities: Aer's
``basic_device_readout_errors(target=...)`` reads ``prob_meas1_prep0``/``prob_meas0_prep1``
from the measure properties when present, which gives asymmetric readout noise without any
hand-written channel, both in our noise model and in ``AerSimulator.from_backend``.
"""

from __future__ import annotations

from typing import Any

from qiskit.circuit import Delay, Measure, Parameter, QuantumCircuit, Reset
from qiskit.circuit.library import CZGate, ECRGate, IGate, RZGate, SXGate, XGate
from qiskit.providers import BackendV2, Options, QubitProperties
from qiskit.transpiler import InstructionProperties, Target

from .calibration import Calibration

NS = 1e-9
US = 1e-6
# IBM's sample time (2/9 ns); every duration in the calibrations is a whole number of dt.
DT = 2 / 9 * NS
TWO_QUBIT_GATES = {"ecr": ECRGate, "cz": CZGate}
NATIVE_1Q = ("rz", "sx", "x", "id")
NON_GATES = ("measure", "reset", "delay", "barrier")


class ReadoutProperties(InstructionProperties):
    """Measure properties with the two conditional readout flip probabilities."""

    prob_meas1_prep0: float
    prob_meas0_prep1: float

    def __init__(
        self,
        duration: float | None = None,
        error: float | None = None,
        prob_meas1_prep0: float = 0.0,
        prob_meas0_prep1: float = 0.0,
    ) -> None:
        super().__init__()
        self.prob_meas1_prep0 = prob_meas1_prep0
        self.prob_meas0_prep1 = prob_meas0_prep1

    def __reduce__(self) -> tuple[Any, ...]:
        # The Rust base class pickles and copies only duration/error; keep ours too.
        return (
            type(self),
            (self.duration, self.error, self.prob_meas1_prep0, self.prob_meas0_prep1),
        )


def build_target(calibration: Calibration) -> Target:
    """Native instruction set of the device with per-instruction error and duration."""
    gate_s = calibration.single_qubit_gate_ns * NS
    qubits = calibration.qubits
    working = [i for i, q in enumerate(qubits) if q.operational]
    target = Target(
        description=calibration.snapshot_id,
        num_qubits=len(qubits),
        dt=DT,
        qubit_properties=[QubitProperties(t1=q.t1_us * US, t2=q.t2_us * US) for q in qubits],
    )
    target.add_instruction(
        RZGate(Parameter("theta")), {(i,): InstructionProperties(0.0, 0.0) for i in working}
    )
    for gate, attr in ((SXGate(), "sx_error"), (XGate(), "x_error"), (IGate(), "id_error")):
        target.add_instruction(
            gate,
            {(i,): InstructionProperties(gate_s, getattr(qubits[i], attr)) for i in working},
        )
    two_qubit = TWO_QUBIT_GATES[calibration.two_qubit_gate]()
    target.add_instruction(
        two_qubit,
        {
            pair: InstructionProperties(duration_ns * NS, calibration.couplers[pair][0])
            for pair in calibration.working_couplers
            for duration_ns in (calibration.couplers[pair][1],)
        },
    )
    target.add_instruction(
        Measure(),
        {
            (i,): ReadoutProperties(
                qubits[i].readout_length_ns * NS,
                qubits[i].readout_error,
                qubits[i].prob_meas1_prep0,
                qubits[i].prob_meas0_prep1,
            )
            for i in working
        },
    )
    target.add_instruction(
        Reset(), {(i,): InstructionProperties(qubits[i].readout_length_ns * NS) for i in working}
    )
    target.add_instruction(Delay(Parameter("t")), {(i,): None for i in working})
    return target


class CalibratedBackend(BackendV2):
    """A ``BackendV2`` exposing a device ``Target``; ``run`` uses its full Aer noise model.

    This is what a plain-Qiskit user would hold: ``AerSimulator.from_backend(backend)``.
    """

    def __init__(self, calibration: Calibration, target: Target | None = None) -> None:
        super().__init__(name=calibration.device, description=calibration.snapshot_id)
        self._target = target if target is not None else build_target(calibration)
        self._simulator: Any = None

    @property
    def target(self) -> Target:
        """The device Target."""
        return self._target

    @property
    def max_circuits(self) -> None:
        """No limit on circuits per job."""
        return None

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=1024, seed_simulator=None)

    def run(self, run_input: QuantumCircuit | list[QuantumCircuit], **options: Any) -> Any:
        """Run on ``AerSimulator.from_backend(self)`` (the unrestricted device noise)."""
        if self._simulator is None:
            from qiskit_aer import AerSimulator

            self._simulator = AerSimulator.from_backend(self)
        return self._simulator.run(run_input, **options)


def ideal_target(num_qubits: int) -> Target:
    """Every native gate of every fleet device on any qubits, noiseless.

    Accepts circuits transpiled for any device of up to ``num_qubits`` qubits.
    """
    target = Target(description="ideal", num_qubits=num_qubits, dt=DT)
    for operation in (
        RZGate(Parameter("theta")),
        SXGate(),
        XGate(),
        IGate(),
        ECRGate(),
        CZGate(),
        Measure(),
        Reset(),
        Delay(Parameter("t")),
    ):
        target.add_instruction(operation, None)
    return target
