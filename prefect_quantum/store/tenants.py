"""Tenants: hashed secrets, authentication, and the store as one tenant may use it.

docs/scheduling.md states the rules [T1..T7]. In short: a store with no registered tenant
is open (one user, everything visible); once a tenant is registered, every
`TenantView` needs credentials, and a tenant reads, cancels and resumes only its own
jobs, while an operator sees all. Secrets are kept only as salted scrypt hashes.

The `SchedulerStore` itself is not guarded: whoever holds the database URL can read
everything with SQL, so isolation is between clients that go through `connect`
(the `QuantumScheduler` block, the CLI), not against the database's own users.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from prefect_quantum.errors import (
    AccessDeniedError,
    AuthenticationError,
    InvalidInputError,
)
from prefect_quantum.names import check_tenant
from prefect_quantum.scheduling import Decisions, PolicyConfig, Request
from prefect_quantum.store.audit import AuditWriter
from prefect_quantum.store.engine import Writes
from prefect_quantum.store.passes import expire_lease
from prefect_quantum.store.schema import cancellations, leases, requests, tenants
from prefect_quantum.store.snapshot import finite_or_none, latest_start, request_from_row

if TYPE_CHECKING:
    from prefect_quantum.store.store import Heartbeat, JobStatus, Outcome, SchedulerStore

Role = Literal["tenant", "operator"]
ROLES: tuple[Role, ...] = ("tenant", "operator")
MIN_SECRET_CHARS = 16
# scrypt with 16 MiB of memory per check (n * r * 128 bytes); the parameters are stored
# with each hash, so raising them later leaves existing hashes valid.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
CANCEL_PREFIX = "cancel:"  # a lease's `preempted_by` while a cancellation waits [T5]


@dataclass(frozen=True, slots=True)
class Credentials:
    """A tenant's name and secret, as a client presents them."""

    tenant: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who uses a `TenantView`: a registered tenant or operator, or (tenant None) the one
    anonymous user of an open store, who has an operator's view [T2]."""

    tenant: str | None
    role: Role

    @property
    def is_operator(self) -> bool:
        """True when every tenant's jobs and records are visible."""
        return self.role == "operator"

    @property
    def name(self) -> str:
        """The tenant's name, or ``open`` for an open store's user (audit details)."""
        return self.tenant if self.tenant is not None else "open"


OPEN = Principal(None, "operator")


class Tx(Protocol):
    """What the store's serialized write transaction offers its extensions."""

    conn: Connection
    writes: Writes
    audit: AuditWriter
    now: float


# -- secrets ----------------------------------------------------------------------------


def new_secret() -> str:
    """A random secret: 32 bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """``scrypt$n$r$p$salt$digest`` (hex) with a fresh 16-byte random salt [T1]."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def secret_matches(secret: str, stored: str) -> bool:
    """True when `secret` hashes to `stored`; compared in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest)
        actual = hashlib.scrypt(secret.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected),
                                maxmem=256 * int(n) * int(r) + 2**20)
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _decoy_hash() -> str:
    """Checked for unknown tenants, so that they take as long as a wrong secret."""
    return hash_secret(new_secret())


def _valid_name(name: str) -> str:
    return check_tenant(name)


def _valid_secret(secret: str | None) -> str:
    if secret is None:
        return new_secret()
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_CHARS:
        raise InvalidInputError("secret", f"must be at least {MIN_SECRET_CHARS} characters")
    return secret


# -- the registry (operator actions) ----------------------------------------------------

_COUNT = select(func.count()).select_from(tenants)
_TENANT = select(tenants)
_LIST = select(tenants.c.tenant, tenants.c.role, tenants.c.created_at, tenants.c.rotated_at
               ).order_by(tenants.c.tenant)


def is_open(store: SchedulerStore) -> bool:
    """True while no tenant is registered [T2]."""
    with store.reading() as conn:
        return not conn.execute(_COUNT).scalar()


def list_tenants(store: SchedulerStore, by: Principal) -> list[dict[str, Any]]:
    """Name, role, created and rotated times of every tenant (never a hash); operators
    only [T4]."""
    _require_operator(by, "list tenants")
    with store.reading() as conn:
        return [dict(row._mapping) for row in conn.execute(_LIST)]


def _require_operator(by: Principal, action: str) -> None:
    if not by.is_operator:
        raise AccessDeniedError(f"tenant {by.name!r} may not {action}: operators only")


def add_tenant(store: SchedulerStore, name: str, *, by: Principal,
               role: Role = "tenant", secret: str | None = None) -> str:
    """Register `name` and return its secret (generated unless given), the only time it
    is available in clear [T1]. The first tenant of an open store must be an operator,
    so that someone can add the others [T4]."""
    _valid_name(name)
    if role not in ROLES:
        raise InvalidInputError("role", f"must be one of {ROLES}, got {role!r}")
    secret = _valid_secret(secret)
    _require_operator(by, "add tenants")
    hashed = hash_secret(secret)  # outside the writers' lock: it takes ~50 ms
    with store.transaction() as tx:
        count = tx.conn.execute(_COUNT).scalar()
        if not count and role != "operator":
            raise InvalidInputError(
                "role", "the first tenant of a store must be an operator (--operator), "
                "or nobody could add the others")
        if count and by is OPEN:  # a tenant was added since the caller found the store open
            raise AuthenticationError("tenants are registered now: credentials are required")
        if tx.conn.execute(_TENANT.where(tenants.c.tenant == name)).first() is not None:
            raise InvalidInputError("tenant", f"{name!r} exists; rotate its secret instead")
        tx.conn.execute(insert(tenants).values(
            tenant=name, secret_hash=hashed, role=role, created_at=tx.now, rotated_at=None))
        tx.audit.append(tx.now, "tenant_added", tenant=name, reason=f"added by {by.name}",
                        detail={"role": role, "by": by.name})
    return secret


def rotate_secret(store: SchedulerStore, name: str, *, by: Principal,
                  secret: str | None = None) -> str:
    """Replace `name`'s secret and return the new one; the old one stops working for
    views opened from now on [T1], [T4]."""
    _valid_name(name)
    secret = _valid_secret(secret)
    _require_operator(by, "rotate secrets")
    hashed = hash_secret(secret)
    with store.transaction() as tx:
        changed = tx.conn.execute(update(tenants).where(tenants.c.tenant == name).values(
            secret_hash=hashed, rotated_at=tx.now)).rowcount
        if not changed:
            raise InvalidInputError("tenant", f"unknown tenant {name!r}")
        tx.audit.append(tx.now, "tenant_rotated", tenant=name,
                        reason=f"secret rotated by {by.name}", detail={"by": by.name})
    return secret


def authenticate(store: SchedulerStore, credentials: Credentials) -> Principal:
    """The principal `credentials` prove, or `AuthenticationError` not saying whether
    the tenant or the secret was wrong [T2]."""
    with store.reading() as conn:
        row = conn.execute(_TENANT.where(tenants.c.tenant == credentials.tenant)).first()
    stored = _decoy_hash() if row is None else row.secret_hash
    if not secret_matches(credentials.secret, stored) or row is None:
        raise AuthenticationError(
            f"tenant {credentials.tenant!r}: authentication failed "
            "(unknown tenant or wrong secret)")
    return Principal(row.tenant, row.role)


def connect(store: SchedulerStore, credentials: Credentials | None) -> TenantView:
    """The store as `credentials` may use it: checked whenever given; without them only
    while the store is open [T2]."""
    if credentials is not None:
        return TenantView(store, authenticate(store, credentials))
    if not is_open(store):
        raise AuthenticationError(
            "this scheduler store has registered tenants: give a tenant and its secret "
            "(QuantumScheduler.credentials, or --tenant/--secret)")
    return TenantView(store, OPEN)


# -- cancel and resume, inside the store's transactions [T5], [T6] ----------------------

def _job(conn: Connection, job_id: str) -> Row[Any]:
    row = conn.execute(select(requests).where(requests.c.job_id == job_id)).first()
    if row is None:
        raise InvalidInputError("job_id", f"unknown job {job_id!r}")
    return row


def _mark_cancelled(tx: Tx, job: Row[Any], by: str) -> None:
    reason = f"[T5] cancelled by {by}"
    tx.conn.execute(update(requests).where(requests.c.job_id == job.job_id).values(
        state="cancelled", reason=reason, latest_start=None, updated_at=tx.now))
    tx.audit.append(tx.now, "cancelled", job_id=job.job_id, tenant=job.tenant,
                    device=job.device, reason=reason,
                    detail={"by": by, "shots_done": job.shots_done})


def cancel_job(tx: Tx, job_id: str, by: str) -> None:
    """A waiting job is cancelled now; a running one is asked to yield (as in [P7]) and
    cancelled when its lease ends, unless it completed first. Cancelling a cancelled
    job changes nothing; other states cannot be cancelled."""
    job = _job(tx.conn, job_id)
    if job.state == "waiting":
        _mark_cancelled(tx, job, by)
    elif job.state == "running":
        tx.conn.execute(update(leases).where(leases.c.job_id == job_id).values(
            preemption_requested=True, preempted_by=(CANCEL_PREFIX + by)[:200]))
        pending = select(cancellations).where(cancellations.c.job_id == job_id)
        if tx.conn.execute(pending).first() is None:
            tx.conn.execute(insert(cancellations).values(
                job_id=job_id, requested_by=by, requested_at=tx.now))
            tx.audit.append(tx.now, "cancel_requested", job_id=job_id, tenant=job.tenant,
                            device=job.device, reason=f"[T5] cancel requested by {by}",
                            detail={"by": by})
    elif job.state != "cancelled":
        raise InvalidInputError(
            "job_id", f"job {job_id!r} is {job.state}; only waiting or running jobs can "
            "be cancelled")


def resume_job(tx: Tx, job_id: str, by: str) -> None:
    """Re-queue a cancelled job as if submitted now, keeping its checkpointed shots and
    counters; anything but a cancelled job is refused."""
    job = _job(tx.conn, job_id)
    if job.state != "cancelled":
        raise InvalidInputError(
            "job_id", f"job {job_id!r} is {job.state}; only a cancelled job can be resumed")
    request: Request = replace(request_from_row(job), submitted_at=tx.now)
    reason = f"[T6] resumed by {by}"
    tx.conn.execute(update(requests).where(requests.c.job_id == job_id).values(
        state="waiting", submitted_at=tx.now, device=None, reason=reason,
        latest_start=finite_or_none(latest_start(request)), updated_at=tx.now))
    tx.audit.append(tx.now, "requeued", job_id=job_id, tenant=job.tenant, reason=reason,
                    detail={"by": by, "shots_done": job.shots_done})


def _take_pending(tx: Tx, job_id: str) -> str | None:
    """Remove the job's waiting cancellation; who asked for it, or None."""
    row = tx.conn.execute(
        select(cancellations.c.requested_by).where(cancellations.c.job_id == job_id)).first()
    if row is None:
        return None
    tx.conn.execute(delete(cancellations).where(cancellations.c.job_id == job_id))
    return row.requested_by or "open"


def cancel_on_release(tx: Tx, job_id: str) -> None:
    """After a lease asked to yield by `cancel_job` was settled: cancel the job if it
    went back to the queue (preempted, or failed and retryable)."""
    by = _take_pending(tx, job_id)
    if by is not None:
        job = _job(tx.conn, job_id)
        if job.state == "waiting":
            _mark_cancelled(tx, job, by)


def cancel_expired(tx: Tx, decisions: Decisions, config: PolicyConfig) -> None:
    """After a pass: cancel the jobs whose lease expired while a cancellation waited.
    The pass re-queued them and may have granted them again; such a new lease is
    expired at once (0 s charged) before the job is cancelled."""
    expired = [e.job_id for e in decisions.expirations]
    pending = tx.conn.execute(select(cancellations.c.job_id).where(
        cancellations.c.job_id.in_(expired))).scalars().all()
    for job_id in pending:
        lease = tx.conn.execute(select(leases).where(leases.c.job_id == job_id)).first()
        if lease is not None:
            expire_lease(tx.writes, tx.audit, lease, "[T5] cancelled before it ran", tx.now,
                         config)
        cancel_on_release(tx, job_id)


# -- the guarded view [T3] --------------------------------------------------------------


class TenantView:
    """The store's job API as `principal` may use it: a tenant submits only as itself
    and reaches only its own jobs, checkpoints, queue, usage, ledger and audit rows;
    an operator (or an open store's user) reaches everything. Another tenant's job, or
    an unknown one, raises `AccessDeniedError` naming the job and the asking tenant."""

    def __init__(self, store: SchedulerStore, principal: Principal) -> None:
        self.store = store
        self.principal = principal
        self._owned: set[str] = set()  # a job's tenant never changes: checked once

    def _check(self, job_id: str, action: str) -> None:
        if self.principal.is_operator or job_id in self._owned:
            return
        with self.store.reading() as conn:
            owner = conn.execute(
                select(requests.c.tenant).where(requests.c.job_id == job_id)).scalar()
        if owner != self.principal.tenant:
            raise AccessDeniedError(
                f"tenant {self.principal.name!r} may not {action} job {job_id!r}: "
                "it has no such job")
        self._owned.add(job_id)

    def check_tenant(self, tenant: str) -> None:
        """Refuse to act as another tenant, before anything is enqueued."""
        if not self.principal.is_operator and tenant != self.principal.tenant:
            raise AccessDeniedError(
                f"tenant {self.principal.name!r} may not submit jobs as tenant {tenant!r}")

    def _mine(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.principal.is_operator:
            return rows
        return [row for row in rows if row.get("tenant") == self.principal.tenant]

    # jobs

    def submit(self, request: Request, payload: Mapping[str, Any] | None = None) -> JobStatus:
        """`SchedulerStore.submit` as the principal's tenant (an existing job id must be
        its own)."""
        self.check_tenant(request.tenant)
        status = self.store.submit(request, payload)
        self._check(request.job_id, "submit")
        return status

    def open_session(self, request: Request, *, max_duration_s: float,
                     idle_timeout_s: float, payload: Mapping[str, Any] | None = None
                     ) -> JobStatus:
        """`SchedulerStore.open_session` as the principal's tenant."""
        self.check_tenant(request.tenant)
        status = self.store.open_session(request, max_duration_s=max_duration_s,
                                         idle_timeout_s=idle_timeout_s, payload=payload)
        self._check(request.job_id, "open a session for")
        return status

    def poll(self, job_id: str) -> JobStatus:
        """`SchedulerStore.poll` of an own job."""
        self._check(job_id, "read")
        return self.store.poll(job_id)

    def payload(self, job_id: str) -> dict[str, Any] | None:
        """`SchedulerStore.payload` of an own job."""
        self._check(job_id, "read")
        return self.store.payload(job_id)

    def cancel(self, job_id: str) -> JobStatus:
        """`SchedulerStore.cancel` of an own job [T5]."""
        self._check(job_id, "cancel")
        return self.store.cancel(job_id, by=self.principal.name)

    def resume(self, job_id: str) -> JobStatus:
        """`SchedulerStore.resume` of an own job [T6]."""
        self._check(job_id, "resume")
        return self.store.resume(job_id, by=self.principal.name)

    # under a lease

    def heartbeat(self, job_id: str, lease_id: str, *, shots_done: int,
                  work_done_s: float) -> Heartbeat:
        """`SchedulerStore.heartbeat` of an own job."""
        self._check(job_id, "heartbeat")
        return self.store.heartbeat(job_id, lease_id, shots_done=shots_done,
                                    work_done_s=work_done_s)

    def touch_session(self, job_id: str, lease_id: str, *, idle: bool) -> Heartbeat:
        """`SchedulerStore.touch_session` of an own session."""
        self._check(job_id, "heartbeat")
        return self.store.touch_session(job_id, lease_id, idle=idle)

    def save_checkpoint(self, job_id: str, lease_id: str, data: Mapping[str, Any]) -> None:
        """`SchedulerStore.save_checkpoint` of an own job."""
        self._check(job_id, "checkpoint")
        self.store.save_checkpoint(job_id, lease_id, data)

    def load_checkpoint(self, job_id: str) -> dict[str, Any] | None:
        """`SchedulerStore.load_checkpoint` of an own job."""
        self._check(job_id, "read the checkpoint of")
        return self.store.load_checkpoint(job_id)

    def release(self, job_id: str, lease_id: str, *, qpu_seconds: float, outcome: Outcome,
                shots_done: int, retry: bool = True) -> None:
        """`SchedulerStore.release` of an own job."""
        self._check(job_id, "release")
        self.store.release(job_id, lease_id, qpu_seconds=qpu_seconds, outcome=outcome,
                           shots_done=shots_done, retry=retry)

    def close_session(self, job_id: str, lease_id: str, *, outcome: Outcome = "completed"
                      ) -> None:
        """`SchedulerStore.close_session` of an own session."""
        self._check(job_id, "release")
        self.store.close_session(job_id, lease_id, outcome=outcome)

    def finish_fallback(self, job_id: str, *, outcome: Literal["completed", "failed"],
                        shots_done: int) -> None:
        """`SchedulerStore.finish_fallback` of an own job."""
        self._check(job_id, "finish")
        self.store.finish_fallback(job_id, outcome=outcome, shots_done=shots_done)

    # inspection

    def queue(self, *, include_finished: bool = False) -> list[dict[str, Any]]:
        """The queue's rows of the principal's jobs."""
        return self._mine(self.store.queue(include_finished=include_finished))

    def usage(self) -> list[dict[str, Any]]:
        """The usage row of the principal's tenant (all rows for an operator)."""
        return self._mine(self.store.usage())

    def audit(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """Audit records about the principal's tenant, all or one own job's."""
        if job_id is not None:
            self._check(job_id, "read")
        return self._mine(self.store.audit(job_id))

    def ledger(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """Settled usage records of the principal's tenant (any tenant's for an
        operator)."""
        if not self.principal.is_operator:
            if tenant is not None and tenant != self.principal.tenant:
                raise AccessDeniedError(
                    f"tenant {self.principal.name!r} may not read tenant {tenant!r}'s ledger")
            tenant = self.principal.tenant
        return self.store.ledger(tenant)

    def leases(self) -> list[dict[str, Any]]:
        """The leases held now by the principal's jobs."""
        return self._mine(self.store.leases())
