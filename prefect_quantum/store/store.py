"""`SchedulerStore`: the durable scheduler state every process and machine shares.

Each write (submit, heartbeat, checkpoint, release, a pass) is one serialized transaction
([S1]); passes run inside the writes that need them and in `poll` when one is due ([S2]),
so no daemon is needed. Times are float epoch seconds from the injected `clock`.

The statements of the reserve-release path are built once, at import (see `passes`).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import Connection, Insert, Row, bindparam, exists, func, select, update
from sqlalchemy.dialects import sqlite as sqlite_dialect

from prefect_quantum.errors import InvalidInputError, LeaseLostError
from prefect_quantum.names import check_name, check_tenant
from prefect_quantum.scheduling import (
    Decisions,
    DeviceState,
    PolicyConfig,
    Request,
    decide,
)
from prefect_quantum.store.audit import AuditWriter, read_audit, verify_chain
from prefect_quantum.store.engine import (
    Query,
    Writes,
    create_schema,
    default_url,
    make_engine,
    read_transaction,
    write_transaction,
)
from prefect_quantum.store.inspection import queue_view, usage_view
from prefect_quantum.store.passes import (
    SELECT_RELEASE,
    UPDATE_REQUEST,
    Decide,
    GrantedLease,
    decision_pass,
    session_limits,
    settle,
)
from prefect_quantum.store.schema import (
    checkpoints,
    leases,
    requests,
    scheduler_lock,
    usage_ledger,
)
from prefect_quantum.store.schema import (
    devices as device_table,
)
from prefect_quantum.store.sessions import SessionLimits, lease_deadline
from prefect_quantum.store.snapshot import (
    STATE_PG,
    State,
    device_from_row,
    device_values,
    request_values,
    state_from_pg,
    with_waiting,
)
from prefect_quantum.store.tenants import (
    CANCEL_PREFIX,
    cancel_expired,
    cancel_job,
    cancel_on_release,
    resume_job,
)

Outcome = Literal["completed", "preempted", "failed"]
OUTCOMES: tuple[str, ...] = ("completed", "preempted", "failed")

_UPDATE_LOCK = update(scheduler_lock).where(scheduler_lock.c.id == 1)
_WAITING = requests.c.state == "waiting"
# Never correlated: they read whole tables even where the enclosing query joins them.
_DUE_COLUMNS = (
    select(func.min(leases.c.deadline_at)).correlate(None).scalar_subquery()
    .label("soonest_deadline"),
    select(func.min(requests.c.latest_start)).where(_WAITING).correlate(None)
    .scalar_subquery().label("latest_start"),
    exists().where(_WAITING).correlate(None).label("any_waiting"),
)
_PASS_DUE = select(scheduler_lock.c.last_pass_at, *_DUE_COLUMNS).where(
    scheduler_lock.c.id == 1
)
_STATUS_COLUMNS = (
    requests.c.job_id, requests.c.state, requests.c.device, requests.c.fallback_kind,
    requests.c.simulator, requests.c.reason, requests.c.shots_done, requests.c.shots_total,
    leases.c.lease_id, leases.c.device.label("lease_device"), leases.c.deadline_at,
    leases.c.preemption_requested,
)
_STATUS = (
    select(*_STATUS_COLUMNS)
    .outerjoin(leases, leases.c.job_id == requests.c.job_id)
    .where(requests.c.job_id == bindparam("job_id"))
)
# `poll`'s read: is a pass due, and the job's status (job_id None: unknown job).
_POLL = (
    select(scheduler_lock.c.last_pass_at, *_DUE_COLUMNS, *_STATUS_COLUMNS)
    .select_from(
        scheduler_lock
        .outerjoin(requests, requests.c.job_id == bindparam("job_id"))
        .outerjoin(leases, leases.c.job_id == requests.c.job_id)
    )
    .where(scheduler_lock.c.id == 1)
)
_JOB = select(requests).where(requests.c.job_id == bindparam("job_id"))
_KNOWN = select(requests.c.job_id).where(requests.c.job_id == bindparam("job_id"))
_INSERT_REQUEST = requests.insert()
# One statement on SQLite: insert unless the job id exists (PostgreSQL: see `_submit`).
_INSERT_NEW_REQUEST: dict[str, Insert] = {
    "sqlite": sqlite_dialect.insert(requests).on_conflict_do_nothing(
        index_elements=[requests.c.job_id]).returning(requests.c.job_id),
}
_LIVE_LEASE = (
    select(leases, requests.c.work_s, requests.c.shots_total, device_table.c.speed)
    .join(requests, requests.c.job_id == leases.c.job_id)
    .outerjoin(device_table, device_table.c.name == leases.c.device)
    .where(leases.c.lease_id == bindparam("lease_id"))
)
_UPDATE_LEASE = update(leases).where(leases.c.lease_id == bindparam("w_lease_id"))
_SETTLED = (
    select(usage_ledger.c.outcome, usage_ledger.c.job_id)
    .where(usage_ledger.c.lease_id == bindparam("lease_id"))
)


@dataclass(frozen=True, slots=True)
class JobStatus:
    """Where a job stands; `lease_id`/`expires_at` are set while it holds a device, and
    `fallback_kind`/`simulator` once it fell back ([B5]). `shots_done` is checkpointed."""

    job_id: str
    state: str
    device: str | None
    lease_id: str | None
    expires_at: float | None
    fallback_kind: str | None
    simulator: str | None
    reason: str | None
    shots_done: int
    shots_total: int
    preempt_requested: bool
    held_before: str | None = None
    """From `submit` of a job that already existed: the lease it held when the call came,
    which belongs to an earlier run (perhaps crashed, perhaps only paused) ([L6])."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A heartbeat's answer: yield the device when `preempt_requested` ([P7]); the lease
    now lasts until `expires_at` unless heartbeated again ([L1], [L2])."""

    preempt_requested: bool
    expires_at: float


@dataclass(slots=True)
class _Tx:
    conn: Connection
    writes: Writes  # statements whose results are not needed (queued on PostgreSQL)
    audit: AuditWriter
    now: float
    fetched: list[list[Any]]  # the rows of the transaction's prefetch queries
    passed: bool = False


def _json(name: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(name, f"must be JSON-serializable: {error}") from None


def _finite_non_negative(name: str, value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise InvalidInputError(name, f"must be a finite number >= 0, got {value!r}")


class SchedulerStore:
    """The scheduler's state on SQLAlchemy: SQLite by default (`default_url()`),
    PostgreSQL by URL (``postgresql+psycopg://...``). Tables are created on first use.

    `lease_ttl_s` defaults to the policy's; a pass runs in `poll` when a lease deadline
    or a request's latest start ([B1]) has passed, or none ran for `pass_interval_s`.
    Every process sharing a store reads its own `clock`: their clocks must agree to well
    within `lease_ttl_s` (NTP), since expiry compares one process's deadline with
    another's now.
    """

    def __init__(
        self,
        url: str | None,
        policy: PolicyConfig,
        *,
        lease_ttl_s: float | None = None,
        clock: Callable[[], float] = time.time,
        pass_interval_s: float = 5.0,
        busy_timeout_s: float = 15.0,
        decide_fn: Decide = decide,
    ) -> None:
        self.url = url or default_url()
        self.policy = policy
        self.lease_ttl_s = policy.lease_ttl_s if lease_ttl_s is None else lease_ttl_s
        if not (self.lease_ttl_s > 0 and math.isfinite(self.lease_ttl_s)):
            raise InvalidInputError("lease_ttl_s", f"must be > 0, got {self.lease_ttl_s!r}")
        _finite_non_negative("pass_interval_s", pass_interval_s)
        self._clock = clock
        self._pass_interval_s = pass_interval_s
        self._decide = decide_fn
        self._engine = make_engine(self.url, busy_timeout_s=busy_timeout_s)
        dialect = self._engine.dialect.name
        self._combined_read = dialect == "postgresql"
        self._insert_new = _INSERT_NEW_REQUEST.get(dialect)
        create_schema(self._engine)

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()

    def __enter__(self) -> SchedulerStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def _writing(self, prefetch: Sequence[Query] = ()) -> Iterator[_Tx]:
        with write_transaction(self._engine, prefetch) as (conn, lock, writes, fetched):
            head = (lock.audit_seq, lock.audit_hash)
            # [S2] now, in the lock
            tx = _Tx(conn, writes, AuditWriter(writes, head), self._clock(), fetched)
            yield tx
            tx.audit.flush()
            changes: dict[str, Any] = {"last_pass_at": tx.now} if tx.passed else {}
            if tx.audit.head != head:
                changes.update(audit_seq=tx.audit.head[0], audit_hash=tx.audit.head[1])
            if changes:
                writes(_UPDATE_LOCK, changes)

    def _pass(self, tx: _Tx, granted: dict[str, GrantedLease] | None = None,
              state: State | None = None) -> Decisions:
        tx.passed = True
        decisions = decision_pass(
            tx.writes, tx.audit, tx.now, self.policy, self.lease_ttl_s, self._decide,
            combined_read=self._combined_read, granted=granted, state=state,
        )
        if decisions.expirations:
            cancel_expired(tx, decisions, self.policy)  # [T5]
        return decisions

    def _pass_due(self, conn: Connection, now: float) -> bool:
        """A lease deadline or a latest start has passed, or the last pass is too old
        while requests wait (one round trip)."""
        return self._due(conn.execute(_PASS_DUE).one(), now)

    def _due(self, row: Any, now: float) -> bool:
        soonest, latest, last = row.soonest_deadline, row.latest_start, row.last_pass_at
        return bool(
            (soonest is not None and soonest <= now)
            or (latest is not None and latest <= now)
            or (row.any_waiting and (last is None or now - last >= self._pass_interval_s))
        )

    def _pass_if_due(self, tx: _Tx) -> None:
        if self._pass_due(tx.conn, tx.now):
            self._pass(tx)

    def _job_row(self, conn: Connection, job_id: str) -> Row[Any]:
        row = conn.execute(_JOB, {"job_id": job_id}).first()
        if row is None:
            raise InvalidInputError("job_id", f"unknown job {job_id!r}")
        return row

    def _status(self, conn: Connection, job_id: str) -> JobStatus:
        return self._status_of(job_id, conn.execute(_STATUS, {"job_id": job_id}).first())

    @staticmethod
    def _status_of(job_id: str, row: Any) -> JobStatus:
        if row is None or row.job_id is None:
            raise InvalidInputError("job_id", f"unknown job {job_id!r}")
        held = row.lease_id is not None
        return JobStatus(
            job_id=job_id,
            state=row.state,
            device=row.lease_device if held else row.device,
            lease_id=row.lease_id,
            expires_at=row.deadline_at,
            fallback_kind=row.fallback_kind,
            simulator=row.simulator,
            reason=row.reason,
            shots_done=row.shots_done,
            shots_total=row.shots_total,
            preempt_requested=bool(row.preemption_requested) if held else False,
        )

    # -- fleet --------------------------------------------------------------------------

    def register_devices(self, fleet: Sequence[DeviceState]) -> None:
        """Insert or update devices; a reported `calibration_age_s` keeps ageing ([S5])."""
        with self._writing() as tx:
            for device in fleet:
                values = device_values(device, tx.now)
                changed = tx.conn.execute(
                    update(device_table).where(device_table.c.name == device.name).values(**values)
                ).rowcount
                if not changed:
                    tx.conn.execute(device_table.insert().values(**values))
            self._pass(tx)

    def set_device_online(self, name: str, online: bool) -> None:
        """Mark a device on- or offline ([B2]) and run a pass."""
        with self._writing() as tx:
            changed = tx.conn.execute(
                update(device_table).where(device_table.c.name == name)
                .values(online=online, updated_at=tx.now)
            ).rowcount
            if not changed:
                raise InvalidInputError("name", f"unknown device {name!r}")
            self._pass(tx)

    def devices(self) -> list[DeviceState]:
        """The registered devices as a pass would see them now."""
        with read_transaction(self._engine) as conn:
            now = self._clock()
            return [device_from_row(row, now)
                    for row in conn.execute(select(device_table).order_by(device_table.c.name))]

    # -- jobs ---------------------------------------------------------------------------

    def _validate(self, request: Request, payload: Mapping[str, Any] | None) -> None:
        check_name(request.job_id, "job_id")
        check_tenant(request.tenant)
        if request.compliance_domain is not None:
            check_name(request.compliance_domain, "compliance_domain")
        for device in request.allowed_devices or ():
            check_name(device, "allowed_devices")
        if request.deadline is not None and not math.isfinite(request.deadline):
            raise InvalidInputError("deadline", f"must be finite, got {request.deadline!r}")
        if request.priority_class not in set(self.policy.priority_classes.values()):
            raise InvalidInputError(
                "priority_class",
                f"{request.priority_class!r} is not a configured class; expected one of "
                f"{dict(self.policy.priority_classes)}",
            )
        if payload is not None:
            _json("payload", dict(payload))

    def submit(self, request: Request, payload: Mapping[str, Any] | None = None) -> JobStatus:
        """Queue `request` (its `submitted_at` is set to the store's now) and run a pass.

        Idempotent by `job_id`: an existing job's status is returned unchanged, so running
        the same job id again resumes it instead of creating a second job.
        """
        return self._submit(request, payload, None)

    def open_session(
        self,
        request: Request,
        *,
        max_duration_s: float,
        idle_timeout_s: float,
        payload: Mapping[str, Any] | None = None,
    ) -> JobStatus:
        """Queue a session ([L4]): once granted, its lease is held across the iterations of
        a variational loop until closed, `max_duration_s` after the start, or
        `idle_timeout_s` after `touch_session(idle=True)` ([L2]); idempotent by job id."""
        limits = SessionLimits.of(max_duration_s, idle_timeout_s, self.policy)
        return self._submit(request, payload, limits)

    def _submit(
        self, request: Request, payload: Mapping[str, Any] | None, session: SessionLimits | None
    ) -> JobStatus:
        self._validate(request, payload)
        # PostgreSQL: whether the job exists and the state a pass reads come back in the
        # lock's round trip; the insert is queued and the pass sees the new request in
        # memory, exactly as the row reads back.
        prefetch: Sequence[Query] = ()
        if self._combined_read:
            prefetch = [(_KNOWN, {"job_id": request.job_id}), (STATE_PG, None)]
        with self._writing(prefetch) as tx:
            request = replace(request, submitted_at=tx.now)
            values = {
                **request_values(request), "state": "waiting",
                "is_session": session is not None,
                "session_max_s": None if session is None else session.max_s,
                "session_idle_timeout_s": None if session is None else session.idle_timeout_s,
                "payload": None if payload is None else dict(payload), "device": None,
                "fallback_kind": None, "simulator": None, "reason": None,
                "updated_at": tx.now,
            }
            state = None
            if self._combined_read:
                known, (row,) = tx.fetched
                inserted = not known
                if inserted:
                    tx.writes(_INSERT_REQUEST, values)
                    state = with_waiting(state_from_pg(row), values)
            elif self._insert_new is not None:
                inserted = tx.conn.execute(self._insert_new, values).first() is not None
            else:
                inserted = tx.conn.execute(_KNOWN, {"job_id": request.job_id}).first() is None
                if inserted:
                    tx.conn.execute(_INSERT_REQUEST, values)
            if not inserted:  # idempotent by job id: the existing job, unchanged
                before = self._status(tx.conn, request.job_id)
                held = None if self._fence_unused(tx, before) else before.lease_id
                self._pass_if_due(tx)
                return replace(self._status(tx.conn, request.job_id), held_before=held)
            tx.audit.append(
                tx.now, "submitted", job_id=request.job_id, tenant=request.tenant,
                detail={"priority_class": request.priority_class, "work_s": request.work_s,
                        "shots_total": request.shots_total, "shots_done": request.shots_done,
                        "session": session is not None},
            )
            granted: dict[str, GrantedLease] = {}
            self._pass(tx, granted, state)
            lease = granted.get(request.job_id)
            if lease is None:
                return self._status(tx.conn, request.job_id)
            # Granted by this pass: the status is what the pass just wrote.
            return JobStatus(
                job_id=request.job_id, state="running", device=lease.device,
                lease_id=lease.lease_id, expires_at=lease.deadline_at, fallback_kind=None,
                simulator=None, reason=lease.reason, shots_done=request.shots_done,
                shots_total=request.shots_total, preempt_requested=False,
            )

    def _fence_unused(self, tx: _Tx, status: JobStatus) -> bool:
        """[L6] A lease never heartbeated nor checkpointed is a grant nobody has used: give
        it a new id, so the caller may take it and a run that got the old id (and stalled
        before using it) is locked out. False when the job holds no lease or a used one."""
        lease_id = status.lease_id
        if lease_id is None:
            return False
        new_id = uuid.uuid4().hex
        fenced = tx.conn.execute(
            update(leases)
            .where(leases.c.lease_id == lease_id, leases.c.last_heartbeat.is_(None),
                   ~exists().where(checkpoints.c.lease_id == lease_id))
            .values(lease_id=new_id)
        ).rowcount
        if fenced:
            tx.audit.append(tx.now, "lease_fenced", job_id=status.job_id, device=status.device,
                            detail={"lease_id": lease_id, "new_lease_id": new_id})
        return bool(fenced)

    def poll(self, job_id: str) -> JobStatus:
        """The job's status, after a pass if one is due (see the class docstring)."""
        with read_transaction(self._engine, consistent=False) as conn:
            row = conn.execute(_POLL, {"job_id": job_id}).one()  # one cheap read
            if not self._due(row, self._clock()):
                return self._status_of(job_id, row)
        with self._writing() as tx:
            self._pass_if_due(tx)
            return self._status(tx.conn, job_id)

    def payload(self, job_id: str) -> dict[str, Any] | None:
        """The payload submitted with the job."""
        with read_transaction(self._engine) as conn:
            value = self._job_row(conn, job_id).payload
            return None if value is None else dict(value)

    def run_pass(self) -> Decisions:
        """One decision pass now ([S1]): expire, decide, write, audit."""
        with self._writing() as tx:
            return self._pass(tx)

    # -- under a lease ------------------------------------------------------------------

    def _live_lease(self, tx: _Tx, job_id: str, lease_id: str) -> Row[Any] | None:
        """The lease with its job's size and its device's speed, None unless live."""
        lease = tx.conn.execute(_LIVE_LEASE, {"lease_id": lease_id}).first()
        if lease is None or lease.job_id != job_id or lease.deadline_at <= tx.now:
            return None
        return lease

    def heartbeat(
        self, job_id: str, lease_id: str, *, shots_done: int, work_done_s: float
    ) -> Heartbeat:
        """Extend the lease by `lease_ttl_s` ([L1]) and report progress: shots done and
        device-seconds run under this lease. Raises `LeaseLostError` when the lease
        expired or was revoked."""
        return self._heartbeat(job_id, lease_id, shots_done, work_done_s, None)

    def touch_session(
        self, job_id: str, lease_id: str, *, idle: bool, shots_done: int = 0,
        work_done_s: float = 0.0,
    ) -> Heartbeat:
        """A session heartbeat: `idle=True` between iterations (starts the idle timeout of
        [L2], and is when a preemption request should be honoured [L4]), False while an
        iteration runs."""
        return self._heartbeat(job_id, lease_id, shots_done, work_done_s, idle)

    def _heartbeat(
        self, job_id: str, lease_id: str, shots_done: int, work_done_s: float,
        idle: bool | None,
    ) -> Heartbeat:
        if shots_done < 0:
            raise InvalidInputError("shots_done", f"must be >= 0, got {shots_done!r}")
        _finite_non_negative("work_done_s", work_done_s)
        with self._writing() as tx:
            lease = self._live_lease(tx, job_id, lease_id)
            if lease is not None:
                shots = min(shots_done, lease.shots_total)
                remaining = lease.work_s * (1.0 - shots / lease.shots_total)
                # duration(r, d) = remaining work * reference_clops / speed (docs: "Work")
                remaining_s = (remaining if lease.speed is None
                               else remaining * self.policy.reference_clops / lease.speed)
                idle_since = lease.idle_since
                if idle is not None:
                    idle_since = (idle_since if idle_since is not None else tx.now) if idle \
                        else None
                expires_at = tx.now + self.lease_ttl_s
                deadline_at, _ = lease_deadline(
                    expires_at, lease.started_at, session_limits(lease), idle_since
                )
                tx.conn.execute(_UPDATE_LEASE, {
                    "w_lease_id": lease_id, "expires_at": expires_at,
                    "deadline_at": deadline_at, "last_heartbeat": tx.now,
                    "shots_live": max(shots, lease.shots_live), "work_done_s": work_done_s,
                    "work_remaining_s": remaining_s, "idle_since": idle_since,
                })
                beat = Heartbeat(bool(lease.preemption_requested), deadline_at)
            self._pass_if_due(tx)
        if lease is None:
            raise LeaseLostError(f"job {job_id}: lease {lease_id} expired or was revoked")
        return beat

    def save_checkpoint(self, job_id: str, lease_id: str, data: Mapping[str, Any]) -> None:
        """Atomically replace the job's checkpoint (partial counts, ``shots_done``,
        ``device``, ``qpu_seconds``, ...) while its lease is live; a re-queued job resumes
        from it ([L3]). Raises `LeaseLostError` when the lease is gone."""
        shots = data.get("shots_done")
        if isinstance(shots, bool) or not isinstance(shots, int) or shots < 0:
            raise InvalidInputError("data.shots_done", f"must be an int >= 0, got {shots!r}")
        _json("data", dict(data))
        with self._writing() as tx:
            lease = self._live_lease(tx, job_id, lease_id)
            if lease is not None:
                total = lease.shots_total
                if shots > total:
                    raise InvalidInputError(
                        "data.shots_done", f"{shots} exceeds the job's {total} shots"
                    )
                qpu = data.get("qpu_seconds")
                values = {
                    "lease_id": lease_id, "device": str(data.get("device", lease.device)),
                    "shots_done": shots, "qpu_seconds": None if qpu is None else float(qpu),
                    "data": dict(data), "updated_at": tx.now,
                }
                replaced = tx.conn.execute(
                    update(checkpoints).where(checkpoints.c.job_id == job_id).values(**values)
                ).rowcount
                if not replaced:
                    tx.conn.execute(checkpoints.insert().values(job_id=job_id, **values))
                tx.conn.execute(UPDATE_REQUEST, {
                    "w_job_id": job_id, "shots_done": shots, "updated_at": tx.now
                })
                tx.conn.execute(_UPDATE_LEASE, {
                    "w_lease_id": lease_id, "checkpointed_s": lease.work_done_s,
                    "shots_live": max(shots, lease.shots_live),
                })
            self._pass_if_due(tx)
        if lease is None:
            raise LeaseLostError(f"job {job_id}: lease {lease_id} expired or was revoked")

    def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        """The job's last checkpoint as saved, or None."""
        with read_transaction(self._engine) as conn:
            data = conn.execute(
                select(checkpoints.c.data).where(checkpoints.c.job_id == job_id)
            ).scalar()
            return None if data is None else dict(data)

    def release(
        self,
        job_id: str,
        lease_id: str,
        *,
        qpu_seconds: float,
        outcome: Outcome,
        shots_done: int,
        retry: bool = True,
    ) -> None:
        """Give the device back and charge `qpu_seconds` to the tenant, once per lease
        ([F1]); a second release of the same lease changes nothing.

        `completed` finishes the job with `shots_done`. `preempted` re-queues it with its
        original age, ``preemption_count + 1`` and `shots_done`, which must equal the
        checkpointed shots ([P7], [L3]). `failed` re-queues it with ``retries_used + 1``
        ([R2]), or fails it for good when `retry` is False. Raises `LeaseLostError` when
        the lease had expired and was settled by a pass.
        """
        _finite_non_negative("qpu_seconds", qpu_seconds)
        self._release(job_id, lease_id, qpu_seconds, outcome, shots_done, retry)

    def close_session(
        self, job_id: str, lease_id: str, *, outcome: Outcome = "completed"
    ) -> None:
        """End a session: charged for the whole time it held the device ([L4]); a
        `preempted` session is re-queued with its checkpointed shots."""
        self._release(job_id, lease_id, None, outcome, None, True)

    def _release(
        self,
        job_id: str,
        lease_id: str,
        qpu_seconds: float | None,
        outcome: str,
        shots_done: int | None,
        retry: bool,
    ) -> None:
        if outcome not in OUTCOMES:
            raise InvalidInputError("outcome", f"must be one of {OUTCOMES}, got {outcome!r}")
        if shots_done is not None and shots_done < 0:
            raise InvalidInputError("shots_done", f"must be >= 0, got {shots_done!r}")
        # The lease is read in the lock's round trip (PostgreSQL).
        with self._writing([(SELECT_RELEASE, {"lease_id": lease_id})]) as tx:
            found = tx.fetched[0]
            lease = found[0] if found else None
            if lease is not None:
                if lease.job_id != job_id:
                    raise InvalidInputError("lease_id", f"{lease_id} is not job {job_id}'s")
                settle(tx.writes, tx.audit, tx.now, self.policy, lease, qpu_seconds, outcome,
                       shots_done, retry)
                if (lease.preempted_by or "").startswith(CANCEL_PREFIX):
                    cancel_on_release(tx, job_id)  # [T5]
                self._pass(tx)
                return
            settled = tx.conn.execute(_SETTLED, {"lease_id": lease_id}).first()
        if settled is not None and settled.job_id != job_id:
            raise InvalidInputError("lease_id", f"{lease_id} is not job {job_id}'s")
        if settled is None or settled.outcome == "expired":
            raise LeaseLostError(f"job {job_id}: lease {lease_id} expired or was revoked")
        # else: released before; releasing again changes nothing

    def finish_fallback(
        self, job_id: str, *, outcome: Literal["completed", "failed"], shots_done: int
    ) -> None:
        """Record the end of a job that ran on a fallback simulator ([B6])."""
        if outcome not in ("completed", "failed"):
            raise InvalidInputError("outcome", f"must be completed or failed, got {outcome!r}")
        with self._writing() as tx:
            job = self._job_row(tx.conn, job_id)
            if job.state != "fallback":
                raise InvalidInputError("job_id", f"{job_id} is {job.state}, not fallback")
            tx.conn.execute(update(requests).where(requests.c.job_id == job_id).values(
                state=outcome, shots_done=min(shots_done, job.shots_total), updated_at=tx.now,
            ))
            if outcome == "completed":
                tx.audit.append(
                    tx.now, "completed", job_id=job_id, tenant=job.tenant, device=job.simulator,
                    reason=f"completed on the {job.fallback_kind} fallback simulator",
                    detail={"shots_done": shots_done, "simulated": True},
                )

    # -- cancel, resume, and the store's extensions ([T1..T7], `store.tenants`) -----------

    def cancel(self, job_id: str, *, by: str = "open") -> JobStatus:
        """Cancel a waiting job now, a running one when it yields or its lease ends
        ([T5]); `by` is recorded in the audit log."""
        with self._writing() as tx:
            cancel_job(tx, job_id, by)
            self._pass(tx)
            return self._status(tx.conn, job_id)

    def resume(self, job_id: str, *, by: str = "open") -> JobStatus:
        """Re-queue a cancelled job from its checkpoint ([T6]) and run a pass."""
        with self._writing() as tx:
            resume_job(tx, job_id, by)
            self._pass(tx)
            return self._status(tx.conn, job_id)

    def transaction(self) -> AbstractContextManager[_Tx]:
        """One serialized write transaction ([S1]) for the store's extensions:
        ``conn``, ``writes``, ``audit`` and ``now``."""
        return self._writing()

    def reading(self) -> AbstractContextManager[Connection]:
        """A read transaction (one snapshot) for the store's extensions."""
        return read_transaction(self._engine)

    # -- inspection ---------------------------------------------------------------------

    def queue(self, *, include_finished: bool = False) -> list[dict[str, Any]]:
        """See `queue_view`."""
        with read_transaction(self._engine) as conn:
            return queue_view(conn, self._clock(), include_finished)

    def usage(self) -> list[dict[str, Any]]:
        """See `usage_view`."""
        with read_transaction(self._engine) as conn:
            return usage_view(conn, self._clock(), self.policy)

    def audit(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """Audit records in order, all or one job's."""
        with read_transaction(self._engine) as conn:
            return read_audit(conn, job_id)

    def verify_audit(self) -> int | None:
        """The seq of the first audit record breaking the hash chain, None if intact."""
        return verify_chain(self.audit())

    def leases(self) -> list[dict[str, Any]]:
        """The leases held now, by device."""
        with read_transaction(self._engine) as conn:
            return [dict(row._mapping)
                    for row in conn.execute(select(leases).order_by(leases.c.device))]

    def ledger(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """Settled usage records in order, all or one tenant's."""
        with read_transaction(self._engine) as conn:
            query = select(usage_ledger).order_by(usage_ledger.c.id)
            if tenant is not None:
                query = query.where(usage_ledger.c.tenant == tenant)
            return [dict(row._mapping) for row in conn.execute(query)]
