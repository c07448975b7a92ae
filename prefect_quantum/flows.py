"""The canonical flow: ``hybrid_job``.

>>> from prefect_quantum import hybrid_job
>>> result = hybrid_job(["ghz:5", "hea:8"], shots=4000, mitigation="zne")  # doctest: +SKIP
>>> result.rows.select("circuit", "device", "mitigated_value", "stderr")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect import Flow
from prefect.runtime import flow_run
from prefect.tasks import exponential_backoff
from qiskit import QuantumCircuit

from prefect_quantum import pipeline
from prefect_quantum.blocks import QuantumScheduler
from prefect_quantum.errors import PermanentError, is_transient
from prefect_quantum.fleet import Fleet
from prefect_quantum.job import JobOptions, JobRequest, MitigationName, PriorityName
from prefect_quantum.reservation import LocalReserver, Reserver
from prefect_quantum.results import JobResult
from prefect_quantum.tasks import (
    JobRun,
    aggregate_task,
    check_calibration_task,
    compile_task,
    execute_task,
    mitigate_task,
    reserve_task,
)

MAX_RUNS = 4
"""A run re-scheduled after crashes (deployments/automations.yaml) gives up after this."""

_default_fleet: Fleet | None = None
_default_reserver = LocalReserver()


def default_fleet() -> Fleet:
    """The process-wide default fleet (built once, on first use)."""
    global _default_fleet
    if _default_fleet is None:
        _default_fleet = Fleet.default()
    return _default_fleet


def _describe(value: Any) -> Any:
    """A short, JSON-friendly stand-in for objects the Prefect API cannot store."""
    if isinstance(value, QuantumCircuit):
        return f"<QuantumCircuit {value.name!r}: {value.num_qubits} qubits, {value.size()} ops>"
    if isinstance(value, list | tuple):
        return [_describe(v) for v in value]
    if isinstance(value, Fleet):
        return f"<Fleet {sorted(value.devices)}>"
    return value


class _JobFlow(Flow[..., JobResult]):
    # Prefect JSON-encodes a run's parameters for the API; FastAPI's encoder walks a
    # QuantumCircuit instruction by instruction (~6 ms per small circuit) only to give up.
    # The UI gets a one-line description instead.
    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return super().serialize_parameters({k: _describe(v) for k, v in parameters.items()})


def _hybrid_job(
    circuits: Sequence[str | QuantumCircuit] | str | QuantumCircuit,
    shots: int = 4000,
    observables: str | list[str | None] | None = None,
    mitigation: MitigationName = "none",
    tenant: str = "default",
    priority: PriorityName = "normal",
    options: JobOptions | dict[str, Any] | None = None,
    scheduler: QuantumScheduler | None = None,
    fleet: Fleet | None = None,
    reserver: Reserver | None = None,
) -> JobResult:
    """Compile, check, reserve, execute, mitigate and aggregate a batch of circuits.

    Args:
        circuits: Qiskit circuits, OpenQASM 2/3 text or files, or built-ins like ``ghz:5``.
        shots: Shots per circuit.
        observables: A Pauli string per circuit (or one for all); by default the value
            is the probability of the circuit's ideal outcome(s).
        mitigation: ``none``, ``zne``, ``rem`` or ``zne+rem``.
        tenant: Who the QPU time is charged to.
        priority: ``low``, ``normal``, ``high`` or ``urgent``.
        options: Advanced settings (:class:`~prefect_quantum.job.JobOptions`).
        scheduler: The shared scheduler block: fair-share queue, preemption, retries and
            fallback across processes; an in-process reserver when omitted.
        fleet: The devices when no scheduler is given; the default fleet when omitted.
        reserver: Who grants devices, overriding the scheduler's (tests, custom policies).
    """
    request = JobRequest.build(
        circuits, shots, observables=observables, mitigation=mitigation, tenant=tenant,
        priority=priority, options=options,
    )
    if flow_run.run_count > MAX_RUNS:
        raise PermanentError(
            f"hybrid-job run {flow_run.id} has run {flow_run.run_count - 1} times already; "
            f"giving up after {MAX_RUNS} (see deployments/automations.yaml)"
        )
    if request.options.job_id is None and flow_run.id is not None:
        # The run's own id: a crashed run that an automation re-schedules is the same
        # job, so it resumes from its checkpoint instead of starting over.
        request = request.model_copy(update={"job_id": f"run-{flow_run.id}"})
    execute = execute_task
    if isinstance(scheduler, dict):
        # A deployment run gets the UI's `{"$ref": ...}` block reference as it was sent:
        # Prefect resolves references while validating parameters, which this flow skips
        # (circuits may be QuantumCircuit objects), so the block is loaded here.
        ref = scheduler.get("$ref")
        scheduler = (QuantumScheduler.load_from_ref(ref) if ref is not None
                     else QuantumScheduler.model_validate(scheduler))
    if scheduler is not None:
        scheduler.tenant_view.check_tenant(request.tenant)  # [T3] before any task runs
        fleet = fleet or scheduler.fleet
        reserver = reserver or scheduler.reserver()
        # [R1]-[R3] Prefect's task retries, configured from the block.
        execute = execute_task.with_options(
            retries=scheduler.retries,
            retry_delay_seconds=exponential_backoff(scheduler.retry_backoff_s)(scheduler.retries),
            retry_jitter_factor=scheduler.retry_jitter_factor,
        )
    fleet = fleet or default_fleet()
    # Fail on a too-wide circuit or an unknown device before any task runs.
    pipeline.candidate_devices(request, fleet)
    run = JobRun(
        job=pipeline.prepare(request), fleet=fleet, reserver=reserver or _default_reserver
    )
    compile_task(run)
    check_calibration_task(run)
    reserve_task(run)
    state = execute(run, return_state=True)
    if state.is_failed():
        exc = state.result(raise_on_failure=False)
        if not (isinstance(exc, BaseException) and is_transient(exc)):
            state.result()  # re-raises the permanent error
        # [B1] retries exhausted: run on the fallback simulator and say why.
        outcome = execute(run, fallback_reason=f"retries exhausted: {exc}")
    else:
        outcome = state.result()
    values = mitigate_task(run, outcome)
    return aggregate_task(run, outcome, values)


hybrid_job = _JobFlow(_hybrid_job, name="hybrid-job", validate_parameters=False)
