"""The Prefect tasks of a hybrid job: thin wrappers over :mod:`prefect_quantum.pipeline`.

Tasks are coarse (a batch per task, never a circuit per task): every task run costs an
API round trip, and the SQLite-backed local API stalls under many of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

from prefect import get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff
from qiskit import QuantumCircuit

from prefect_quantum import pipeline, progress
from prefect_quantum.errors import LeaseLostError, is_transient
from prefect_quantum.fleet import (
    Checkpoint,
    DeviceOfflineCheckpointError,
    Execution,
    Fleet,
    Progress,
    SimulatedQPU,
)
from prefect_quantum.pipeline import CircuitValue, DeviceCheck, DeviceRun, PreparedJob
from prefect_quantum.reservation import Lease, ReservationRequest, Reserver
from prefect_quantum.results import JobResult, circuit_rows, device_run_rows


def retry_transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry transient errors, never permanent ones."""
    try:
        state.result()
    except Exception as exc:
        return is_transient(exc)
    return False


@dataclass
class JobRun:
    """Everything the tasks of one job share; ``runs`` and ``lease`` change as it runs."""

    job: PreparedJob
    fleet: Fleet
    reserver: Reserver
    compiled: dict[str, list[QuantumCircuit]] = field(default_factory=dict)
    checks: list[DeviceCheck] = field(default_factory=list)
    lease: Lease | None = None
    runs: list[DeviceRun] = field(default_factory=list)

    def reservation_request(self) -> ReservationRequest:
        """Ask for the eligible devices that are still online, best first."""
        opts = self.job.request.options
        eligible = [c.device for c in self.checks if c.eligible]
        online = tuple(d for d in eligible if self.fleet.get(d).online)
        # The scheduler also gets the devices that are only offline now: it knows when they
        # return ([B2]), so an outage does not read as "no QPU can ever serve the job" [B7].
        allowed = tuple(c.device for c in self.checks if c.eligible or c.reason == "offline")
        reasons = "; ".join(f"{c.device}: {c.reason}" for c in self.checks if not c.eligible)
        return ReservationRequest(
            job_id=self.job.request.job_id,
            tenant=self.job.request.tenant,
            priority=self.job.request.priority,
            candidates=online,
            allowed=allowed,
            max_wait_s=opts.max_wait_s,
            fallback=opts.fallback,
            fallback_device=self.checks[0].device,
            no_candidate_reason=f"no eligible device ({reasons or 'all went offline'})",
            num_qubits=self.job.width,
            shots=self.job.request.shots,
            circuit_shots=self.job.request.shots * pipeline.batch_size(self.job),
            compliance_domain=opts.compliance_domain,
        )

    def backend(self, lease: Lease) -> SimulatedQPU:
        """The simulated QPU or fallback simulator a lease points at."""
        if lease.backend_kind == "qpu":
            return self.fleet.get(lease.device)
        if lease.fallback == "ideal":
            return self.fleet.ideal_simulator()
        return self.fleet.last_good_simulator(lease.device)


@dataclass(frozen=True)
class ExecuteOutcome:
    """The counts of the batch and where they came from."""

    lease: Lease
    backend: SimulatedQPU
    transpiled: list[QuantumCircuit]
    execution: Execution


# Caching: transpiled circuits are cached per (circuit, target, seed, level) by
# SimulatedQPU.transpile in memory; Prefect's cache would persist every batch to result
# storage, which costs more than re-transpiling the small circuits jobs carry.
@task(name="compile", cache_policy=NO_CACHE)
def compile_task(run: JobRun) -> dict[str, list[QuantumCircuit]]:
    """Transpile every measurement circuit for every candidate device."""
    devices = pipeline.candidate_devices(run.job.request, run.fleet)
    run.compiled = pipeline.compile_for(run.job, devices)
    return run.compiled


@task(name="check_calibration", cache_policy=NO_CACHE)
def check_calibration_task(run: JobRun) -> list[DeviceCheck]:
    """Score each compiled device; log why any is filtered out."""
    devices = [run.fleet.get(name) for name in run.compiled]
    run.checks = pipeline.check_calibration(run.job, devices, run.compiled)
    logger = get_run_logger()
    for check in run.checks:
        if not check.eligible:
            logger.warning("device %s filtered: %s", check.device, check.reason)
    return run.checks


@task(name="reserve", cache_policy=NO_CACHE)
def reserve_task(run: JobRun) -> Lease:
    """Lease the best eligible device, or decide a simulator fallback."""
    run.lease = run.reserver.reserve(run.reservation_request())
    if run.lease.fallback_reason:
        get_run_logger().warning("falling back to a simulator: %s", run.lease.fallback_reason)
    return run.lease


@task(
    name="execute",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=exponential_backoff(backoff_factor=0.5),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient_only,
)
def execute_task(run: JobRun, fallback_reason: str | None = None) -> ExecuteOutcome:
    """Run the batch (with its mitigation circuits) under the job's lease, in chunks.

    Between chunks the lease is heartbeated; when the scheduler asks for the device back,
    the counts so far are checkpointed, the lease released, and the job re-queued keeping
    its age; it resumes with the remaining shots. A retry re-reserves, possibly on another
    device. With ``fallback_reason`` the batch runs on the fallback simulator instead.
    """
    try:
        return _execute(run, fallback_reason)
    except LeaseLostError:
        # [L3] the store re-queued the job from its checkpoint: a retry must reserve
        # again, not run on under the dead lease (every heartbeat would fail).
        run.lease = None
        raise


def _execute(run: JobRun, fallback_reason: str | None) -> ExecuteOutcome:
    if fallback_reason is not None:
        run.lease = run.reserver.fall_back(run.reservation_request(), fallback_reason)
    elif run.lease is None:
        run.lease = run.reserver.reserve(run.reservation_request())
    total = run.job.request.shots
    artifact = cast(UUID, create_progress_artifact(0.0, description=f"Shots of {total} done"))
    while True:
        lease = run.lease
        # [C1] re-checked where it matters: right before anything runs.
        run.fleet.compliance.check(run.job.request.options.compliance_domain,
                                   lease.backend_kind, lease.device, lease.fallback)
        backend = run.backend(lease)
        transpiled = run.compiled[lease.device]
        batch = pipeline.build_batch(run.job, transpiled)
        resume = _resume_point(run, lease)
        already = resume.qpu_seconds if resume else 0.0  # charged to earlier leases
        saver = _PeriodicCheckpoint(run, lease, backend)

        def on_chunk(
            p: Progress, lease: Lease = lease, already: float = already,
            saver: _PeriodicCheckpoint = saver,
        ) -> bool:
            update_progress_artifact(artifact, 100.0 * p.shots_done / p.shots_total)
            progress.report(lease.job_id, p.shots_done, p.shots_total)
            saver.maybe_save(p)
            return run.reserver.heartbeat(
                lease, shots_done=p.shots_done, qpu_seconds=p.qpu_seconds - already
            )

        started = time.perf_counter()
        try:
            execution = pipeline.run_batch(backend, batch, run.job, on_chunk, resume)
        except DeviceOfflineCheckpointError as exc:
            # [R1] transient: keep the partial counts, give the lease back, let Prefect retry.
            point = exc.checkpoint
            saver.save(point)
            run.reserver.release(
                lease, qpu_seconds=point.qpu_seconds - already, outcome="failed",
                shots_done=point.shots_done,
            )
            run.runs.append(_device_run(lease, backend, len(batch), point.shots_done, 0,
                                        point.qpu_seconds - already, "offline"))
            run.lease = None
            raise
        used = execution.qpu_seconds - already
        record = _device_run(lease, backend, len(batch), execution.shots, execution.chunks,
                             used, "preempted" if execution.stopped else "completed")
        record.extra["wall_s"] = time.perf_counter() - started
        run.runs.append(record)
        if not execution.stopped:
            # The fleet calls on_chunk between chunks only; the last one is reported here.
            update_progress_artifact(artifact, 100.0)
            progress.report(lease.job_id, execution.shots, total)
            run.reserver.release(
                lease, qpu_seconds=used, outcome="completed", shots_done=execution.shots
            )
            return ExecuteOutcome(lease, backend, list(transpiled), execution)
        # [P7] preempted between chunks: checkpoint, yield the device, wait for another.
        saver.save(execution.checkpoint())
        run.reserver.release(
            lease, qpu_seconds=used, outcome="preempted", shots_done=execution.shots
        )
        get_run_logger().warning(
            "preempted on %s after %d of %d shots; re-queued", lease.device, execution.shots,
            total,
        )
        run.lease = run.reserver.reserve(run.reservation_request())


class _PeriodicCheckpoint:
    """Saves a lease's partial counts: at preemption, on going offline, and between chunks
    at most every ``options.checkpoint_interval_s``, so a killed worker loses at most
    that much work ([L3])."""

    def __init__(self, run: JobRun, lease: Lease, backend: SimulatedQPU):
        self.run, self.lease, self.backend = run, lease, backend
        self.interval = run.job.request.options.checkpoint_interval_s
        self.last = time.monotonic()

    def save(self, point: Checkpoint) -> None:
        doc = {**point.to_dict(), "device": self.backend.name,
               "snapshot_id": self.backend.snapshot_id}
        self.run.reserver.save_checkpoint(self.lease, doc)
        self.last = time.monotonic()

    def maybe_save(self, progress: Progress) -> None:
        if self.lease.backend_kind == "qpu" and time.monotonic() - self.last >= self.interval:
            self.save(progress.checkpoint())


def _resume_point(run: JobRun, lease: Lease) -> Checkpoint | None:
    """The job's checkpoint, unless the job now runs on a fallback simulator.

    Counts are over the logical circuits' bits, so shots done on one QPU and the rest on
    another add up to one sample of the job; a fallback starts afresh so that its rows
    are wholly simulated.
    """
    if lease.backend_kind != "qpu":
        return None
    doc = run.reserver.load_checkpoint(lease.job_id)
    return Checkpoint.from_dict(doc) if doc else None


def _device_run(
    lease: Lease, backend: SimulatedQPU, circuits: int, shots: int, chunks: int,
    qpu_s: float, status: str,
) -> DeviceRun:
    return DeviceRun(
        device=backend.name,
        backend_kind=lease.backend_kind,
        calibration_snapshot=backend.snapshot_id,
        circuits_executed=circuits,
        shots=shots,
        chunks=chunks,
        qpu_seconds=qpu_s,
        status=status,
        fallback_reason=lease.fallback_reason,
    )


@task(name="mitigate", cache_policy=NO_CACHE)
def mitigate_task(run: JobRun, outcome: ExecuteOutcome) -> list[CircuitValue]:
    """Combine the batch's counts into raw and mitigated values."""
    return pipeline.mitigate(
        run.job, outcome.backend, outcome.transpiled, outcome.execution.counts
    )


@task(name="aggregate", cache_policy=NO_CACHE)
def aggregate_task(
    run: JobRun, outcome: ExecuteOutcome, values: list[CircuitValue]
) -> JobResult:
    """Build the result frames and publish them as table and markdown artifacts."""
    result = build_result(run, outcome, values)
    key = f"hybrid-job-{result.job_id}".lower()[:60]
    create_table_artifact(result.to_dicts(), key=key, description="Circuit results.")
    create_markdown_artifact(result.markdown(), key=f"{key}-report", description="Job report.")
    return result


def build_result(run: JobRun, outcome: ExecuteOutcome, values: list[CircuitValue]) -> JobResult:
    """The job's circuit rows and device-run rows (shared with the plain-Python path)."""
    request = run.job.request
    check = {c.device: c for c in run.checks}.get(outcome.lease.device)
    rows = []
    for i, (named, value) in enumerate(zip(request.circuits, values, strict=True)):
        rows.append({
            "circuit": named.name,
            "device": outcome.backend.name,
            "backend_kind": outcome.lease.backend_kind,
            "shots": outcome.execution.shots,
            "calibration_snapshot": outcome.backend.snapshot_id,
            "raw_value": value.raw_value,
            "mitigated_value": value.mitigated_value,
            "stderr": value.stderr,
            "mitigation": request.mitigation,
            "estimated_fidelity": check.estimated_fidelity if check else None,
            "job_id": request.job_id,
            "observable": request.observables[i] if request.observables else None,
            "transpile_seed": request.options.seed,
            "fallback_reason": outcome.lease.fallback_reason,
        })
    return JobResult(request.job_id, circuit_rows(rows), device_run_rows(run.runs))
