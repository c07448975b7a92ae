"""The stages of a hybrid job as plain functions, with no Prefect in sight.

The Prefect tasks in :mod:`prefect_quantum.tasks` are thin wrappers around these, so the
same work can be timed without an orchestrator (``benchmarks/overhead.py``) and unit
tested without a Prefect API.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from qiskit import QuantumCircuit

from prefect_quantum.errors import (
    CircuitTooWideError,
    ComplianceError,
    InvalidInputError,
    NoEligibleDeviceError,
)
from prefect_quantum.fleet import (
    Checkpoint,
    Execution,
    Fleet,
    Progress,
    SimulatedQPU,
    measured_qubits,
)
from prefect_quantum.job import JobRequest
from prefect_quantum.mitigation import rem, zne
from prefect_quantum.mitigation.zne import ZNEConfig
from prefect_quantum.observables import MeasurementPlan, plan_measurements


@dataclass(frozen=True)
class PreparedJob:
    """A request with its measurement circuits laid out flat, ready to compile."""

    request: JobRequest
    plans: list[MeasurementPlan]
    circuits: list[QuantumCircuit]
    """Every measurement circuit of every plan, plan after plan."""
    offsets: list[int]
    """Index in ``circuits`` of each plan's first measurement circuit, plus the total."""
    width: int

    def plan_slice(self, index: int) -> slice:
        """The measurement circuits of plan ``index`` within ``circuits``."""
        return slice(self.offsets[index], self.offsets[index + 1])


@dataclass(frozen=True)
class DeviceCheck:
    """The calibration check of one device for one job."""

    device: str
    eligible: bool
    reason: str
    calibration_snapshot: str
    calibration_age_s: float
    error_score: float
    estimated_fidelity: float
    estimated_qpu_s: float
    clops: int


@dataclass(frozen=True)
class CircuitValue:
    """The measured value of one circuit, raw and mitigated, with its shot-noise error."""

    raw_value: float
    raw_stderr: float
    mitigated_value: float
    stderr: float


@dataclass
class DeviceRun:
    """One execution of the job's batch on one backend."""

    device: str
    backend_kind: str
    calibration_snapshot: str
    circuits_executed: int
    shots: int
    chunks: int
    qpu_seconds: float
    status: str
    fallback_reason: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


def prepare(request: JobRequest) -> PreparedJob:
    """Plan the measurement circuits of every circuit (validates the observables)."""
    plans: list[MeasurementPlan] = []
    for i, named in enumerate(request.circuits):
        observable = request.observables[i] if request.observables else None
        try:
            plans.append(
                plan_measurements(named.circuit, observable, outcomes=named.ideal_outcomes)
            )
        except InvalidInputError as exc:
            raise InvalidInputError(f"observables[{i}]", str(exc)) from None
    circuits = [c for p in plans for c in p.circuits]
    offsets = [0]
    for p in plans:
        offsets.append(offsets[-1] + len(p.circuits))
    width = max(c.circuit.num_qubits for c in request.circuits)
    return PreparedJob(request, plans, circuits, offsets, width)


def candidate_devices(request: JobRequest, fleet: Fleet) -> list[SimulatedQPU]:
    """Devices the job may use at all: allowed by the request and its compliance domain,
    and wide enough."""
    names = request.options.devices
    devices = [fleet.get(n) for n in names] if names else list(fleet.devices.values())
    domain = request.options.compliance_domain
    if domain is not None:
        authorized = fleet.compliance.devices_for(domain)
        devices = [d for d in devices if d.name in authorized]
        if not devices:
            raise ComplianceError(
                f"options.devices: none is authorized for compliance domain {domain!r}; "
                f"expected some of {sorted(authorized)}"
            )
    width = max(c.circuit.num_qubits for c in request.circuits)
    wide = [d for d in devices if d.num_qubits >= width]
    if not wide:
        widest = max(d.num_qubits for d in devices)
        raise CircuitTooWideError(
            "circuits", f"a circuit needs {width} qubits but the widest device allowed has {widest}"
        )
    return wide


def compile_for(
    job: PreparedJob, devices: Sequence[SimulatedQPU]
) -> dict[str, list[QuantumCircuit]]:
    """Transpile every measurement circuit for every device (cached per circuit and target)."""
    opts = job.request.options
    level = opts.optimization_level
    return {d.name: d.transpile(job.circuits, seed=opts.seed, optimization_level=level)
            for d in devices}


def estimated_fidelity(device: SimulatedQPU, transpiled: QuantumCircuit, width: int) -> float:
    """SEEDS.md's single-device estimate: ``(1 - sx)^D * (1 - ro)^sqrt(Q)``.

    D is the depth of the transpiled circuit, Q the logical width, sx and ro the device's
    mean sx and readout errors (the ICPP 2025 model with n = 1).
    """
    cal = device.calibration
    depth = transpiled.depth()
    return (1 - cal.mean_sx_error) ** depth * (1 - cal.mean_readout_error) ** math.sqrt(width)


def check_calibration(
    job: PreparedJob,
    devices: Sequence[SimulatedQPU],
    compiled: dict[str, list[QuantumCircuit]],
    now: datetime | None = None,
) -> list[DeviceCheck]:
    """Check freshness and health of each device; eligible ones first, best first."""
    now = now or datetime.now(UTC)
    max_age = job.request.options.calibration_max_age_s
    shots = job.request.shots * batch_size(job)
    checks = []
    for d in devices:
        age = (now - d.calibrated_at).total_seconds()
        fidelities = [estimated_fidelity(d, c, job.width) for c in compiled[d.name]]
        reason = "ok"
        if not d.online:
            reason = "offline"
        elif age > max_age:
            reason = f"calibration stale: {age / 3600:.1f} h old, bound {max_age / 3600:.1f} h"
        checks.append(
            DeviceCheck(
                device=d.name,
                eligible=reason == "ok",
                reason=reason,
                calibration_snapshot=d.calibration.snapshot_id,
                calibration_age_s=age,
                error_score=d.calibration.error_score,
                estimated_fidelity=sum(fidelities) / len(fidelities),
                estimated_qpu_s=d.qpu_seconds(shots),
                clops=d.calibration.clops,
            )
        )
    return sorted(checks, key=_rank_key)


def _rank_key(check: DeviceCheck) -> tuple[bool, float, str]:
    # Eligible first; then fidelity, discounted by 1% per doubling of the run time over the
    # fastest plausible run (1 s), so a slow device must be clearly better to win.
    penalty = 0.01 * math.log2(1 + check.estimated_qpu_s)
    return (not check.eligible, -(check.estimated_fidelity - penalty), check.device)


def batch_size(job: PreparedJob) -> int:
    """How many circuits the job executes, mitigation circuits included."""
    factors = len(zne_config(job.request).scale_factors) if "zne" in job.request.mitigation else 1
    return len(job.circuits) * factors


def zne_config(request: JobRequest) -> ZNEConfig:
    """The request's ZNE options as the mitigation layer's config."""
    z = request.options.zne
    return ZNEConfig(
        scale_factors=z.scale_factors, factory=z.factory, folding=z.folding,
        seed=request.options.seed,
    )


def build_batch(job: PreparedJob, transpiled: Sequence[QuantumCircuit]) -> list[QuantumCircuit]:
    """The circuits to execute: the transpiled ones, each folded per scale factor for ZNE."""
    if "zne" in job.request.mitigation:
        return zne.construct_circuits(transpiled, zne_config(job.request))
    return rem.construct_circuits(transpiled)  # REM adds no circuits


def run_batch(
    device: SimulatedQPU,
    batch: Sequence[QuantumCircuit],
    job: PreparedJob,
    should_stop: Callable[[Progress], bool] | None = None,
    resume: Checkpoint | None = None,
) -> Execution:
    """Execute the whole batch on one device, in chunks of shots, from ``resume`` if given."""
    opts = job.request.options
    return device.execute(
        batch, job.request.shots, seed=opts.seed, chunk_shots=opts.chunk_shots,
        should_stop=should_stop, resume=resume,
    )


def mitigate(
    job: PreparedJob,
    device: SimulatedQPU,
    transpiled: Sequence[QuantumCircuit],
    counts: Sequence[dict[str, int]],
) -> list[CircuitValue]:
    """Turn the batch's counts into one raw and one mitigated value per circuit."""
    technique = job.request.mitigation
    factors = len(zne_config(job.request).scale_factors) if "zne" in technique else 1
    use_rem = "rem" in technique and not device.ideal
    values = []
    for i, plan in enumerate(job.plans):
        sl = job.plan_slice(i)
        # counts are ordered circuit-major: measurement circuit j at each scale factor
        per_scale = [
            [counts[j * factors + k] for j in range(sl.start, sl.stop)] for k in range(factors)
        ]
        raw, raw_err = plan.value(per_scale[0])
        confusion = (
            [_confusion(device, transpiled[j]) for j in range(sl.start, sl.stop)]
            if use_rem else None
        )
        scaled = [plan.value(c, confusion) for c in per_scale]
        if "zne" in technique:
            config = zne_config(job.request)
            mitigated = zne.combine_results([v for v, _ in scaled], config)
            stderr = zne.propagate_stderr([e for _, e in scaled], config)
        else:
            mitigated, stderr = scaled[0]
        values.append(CircuitValue(raw, raw_err, mitigated, stderr))
    return values


def _confusion(device: SimulatedQPU, transpiled: QuantumCircuit) -> list[np.ndarray]:
    qubits = [device.calibration.qubits[p] for p in measured_qubits(transpiled)]
    return rem.confusion_matrices(
        [q.prob_meas1_prep0 for q in qubits], [q.prob_meas0_prep1 for q in qubits]
    )


def best_eligible(checks: Sequence[DeviceCheck]) -> list[str]:
    """The eligible devices in preference order; NoEligibleDeviceError when there are none."""
    names = [c.device for c in checks if c.eligible]
    if not names:
        reasons = "; ".join(f"{c.device}: {c.reason}" for c in checks)
        raise NoEligibleDeviceError(f"no device passed the calibration check ({reasons})")
    return names
