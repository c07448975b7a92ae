"""Rows <-> the core's values, and the `Snapshot` a pass hands to `decide` ([S5]).

The statements a pass runs are built once, here, so that a pass pays for executing them
only (SQLAlchemy's per-call construction, coercion and cache-key generation cost more
than SQLite itself). On PostgreSQL the whole state a pass reads comes back in one round
trip (`STATE_PG`, rows as JSON), read after the scheduler row is locked ([S1]).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Boolean, Column, Float, Integer, Row, Table, select

from prefect_quantum.scheduling import (
    DeviceState,
    FallbackMode,
    Lease,
    Request,
    Snapshot,
    TenantUsage,
)
from prefect_quantum.store.engine import JsonRow, Writes
from prefect_quantum.store.schema import devices, leases, requests, tenant_usage

# A row as a pass sees it: a SQLAlchemy `Row`, or a `JsonRow` from `STATE_PG`; both
# offer attribute access and ``._mapping[name]``.
RowLike = Any

# Every request column but the payload, which no pass reads.
REQUEST_COLUMNS = tuple(c for c in requests.c if c.name != "payload")
SELECT_LEASES = select(leases)
SELECT_WAITING = select(*REQUEST_COLUMNS).where(requests.c.state == "waiting")
SELECT_DEVICES = select(devices)
SELECT_USAGE = select(tenant_usage)


def _json_agg(columns: Iterable[Column[Any]], table: Table, where: str = "") -> str:
    names = ", ".join(f'"{c.name}"' for c in columns)
    return (f"(SELECT coalesce(json_agg(x), '[]'::json) FROM "
            f'(SELECT {names} FROM "{table.name}"{where}) AS x)')


STATE_PG = "SELECT " + ", ".join((
    _json_agg(leases.c, leases) + " AS leases",
    _json_agg(REQUEST_COLUMNS, requests, " WHERE state = 'waiting'") + " AS waiting",
    _json_agg(devices.c, devices) + " AS devices",
    _json_agg(tenant_usage.c, tenant_usage) + " AS usage",
))
"""The leases, waiting requests, devices and settled usage in one statement (PostgreSQL).
It must run after the lock statement, never inside it: a ``FOR UPDATE`` that waited
re-reads the locked row but not the other tables, which would be a stale snapshot."""


def _floats(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.c if isinstance(c.type, Float))


_FLOATS = {t.name: _floats(t) for t in (leases, requests, devices, tenant_usage)}


def _decode(objects: list[dict[str, Any]], table: Table) -> list[JsonRow]:
    """JSON numbers back to the column types: ``1.0`` arrives as the integer 1, and
    non-finite floats as strings."""
    floats = _FLOATS[table.name]
    out = []
    for obj in objects:
        for name in floats:
            value = obj[name]
            if value is not None and type(value) is not float:
                obj[name] = float(value)
        out.append(JsonRow(obj))
    return out


class State(NamedTuple):
    """What a pass reads: all leases, the waiting requests, devices and settled usage."""

    leases: Sequence[RowLike]
    waiting: Sequence[RowLike]
    devices: Sequence[RowLike]
    usage: Sequence[RowLike]


def state_from_pg(row: JsonRow) -> State:
    """The `State` of a `STATE_PG` row."""
    return State(_decode(row.leases, leases), _decode(row.waiting, requests),
                 _decode(row.devices, devices), _decode(row.usage, tenant_usage))


def with_waiting(state: State, values: Mapping[str, Any]) -> State:
    """`state` plus one request row, inserted after `state` was read, as it reads back
    (column types applied: floats, integers and booleans)."""
    row = JsonRow()
    for column in REQUEST_COLUMNS:
        value = values[column.name]
        if value is not None:
            if isinstance(column.type, Float):
                value = float(value)
            elif isinstance(column.type, Boolean):
                value = bool(value)
            elif isinstance(column.type, Integer):
                value = int(value)
        row[column.name] = value
    return state._replace(waiting=[*state.waiting, row])


def read_state(writes: Writes, combined: bool) -> State:
    """The state a pass reads, in one statement when `combined` (PostgreSQL), sent with
    the writes queued before it."""
    if combined:
        return state_from_pg(writes.fetch([(STATE_PG, None)])[0][0])
    conn = writes.conn
    return State(
        conn.execute(SELECT_LEASES).all(), conn.execute(SELECT_WAITING).all(),
        conn.execute(SELECT_DEVICES).all(), conn.execute(SELECT_USAGE).all(),
    )


def request_values(request: Request) -> dict[str, Any]:
    """The `requests` columns that mirror a core `Request`."""
    return {
        "job_id": request.job_id,
        "tenant": request.tenant,
        "priority_class": request.priority_class,
        "submitted_at": request.submitted_at,
        "work_s": request.work_s,
        "num_qubits": request.num_qubits,
        "allowed_devices": (
            None if request.allowed_devices is None else sorted(request.allowed_devices)
        ),
        "compliance_domain": request.compliance_domain,
        "preemptible": request.preemptible,
        "max_wait_s": None if math.isinf(request.max_wait_s) else request.max_wait_s,
        "deadline": request.deadline,
        "latest_start": finite_or_none(latest_start(request)),
        "preemption_count": request.preemption_count,
        "shots_done": request.shots_done,
        "shots_total": request.shots_total,
        "fallback": None if request.fallback is None else FallbackMode(request.fallback).value,
        "retries_used": request.retries_used,
    }


def latest_start(request: Request) -> float:
    """`L_r = min(submitted_at + max_wait_s, deadline - remaining work)` of [B1]; the
    store keeps it per waiting request so that `poll` knows when a pass is due."""
    latest = request.submitted_at + request.max_wait_s
    if request.deadline is not None:
        latest = min(latest, request.deadline - request.remaining_work_s)
    return latest


def finite_or_none(value: float) -> float | None:
    """Infinity is stored as NULL."""
    return None if math.isinf(value) else value


def request_from_row(row: RowLike | Mapping[str, Any]) -> Request:
    """The core `Request` of a `requests` row."""
    m = row._mapping if isinstance(row, (Row, JsonRow)) else row
    allowed = m["allowed_devices"]
    return Request(
        job_id=m["job_id"],
        tenant=m["tenant"],
        priority_class=m["priority_class"],
        submitted_at=m["submitted_at"],
        work_s=m["work_s"],
        num_qubits=m["num_qubits"],
        allowed_devices=None if allowed is None else frozenset(allowed),
        compliance_domain=m["compliance_domain"],
        preemptible=m["preemptible"],
        max_wait_s=math.inf if m["max_wait_s"] is None else m["max_wait_s"],
        deadline=m["deadline"],
        preemption_count=m["preemption_count"],
        shots_done=m["shots_done"],
        shots_total=m["shots_total"],
        fallback=None if m["fallback"] is None else FallbackMode(m["fallback"]),
        retries_used=m["retries_used"],
    )


def lease_from_row(row: RowLike) -> Lease:
    """The core `Lease` of a `leases` row."""
    m = row._mapping
    return Lease(
        job_id=m["job_id"],
        device=m["device"],
        tenant=m["tenant"],
        priority_class=m["priority_class"],
        started_at=m["started_at"],
        expires_at=m["expires_at"],
        preemptible=m["preemptible"],
        compliance_domain=m["compliance_domain"],
        preemption_requested=m["preemption_requested"],
        preemption_count=m["preemption_count"],
        work_done_s=m["work_done_s"],
        checkpointed_s=m["checkpointed_s"],
        work_remaining_s=m["work_remaining_s"],
        is_session=m["is_session"],
        idle_since=m["idle_since"],
    )


def device_values(device: DeviceState, now: float) -> dict[str, Any]:
    """The `devices` columns of a `DeviceState` reported at `now`."""
    return {
        "name": device.name,
        "online": device.online,
        "num_qubits": device.num_qubits,
        "speed": device.speed,
        "calibration_ok": device.calibration_ok,
        "calibrated_at": now - device.calibration_age_s,
        "est_fidelity": device.est_fidelity,
        "compliance_domains": sorted(device.compliance_domains),
        "is_simulator": device.is_simulator,
        "updated_at": now,
    }


def device_from_row(row: RowLike, now: float) -> DeviceState:
    """The `DeviceState` at `now`: the calibration ages with the clock ([S5])."""
    m = row._mapping
    return DeviceState(
        name=m["name"],
        online=m["online"],
        num_qubits=m["num_qubits"],
        speed=m["speed"],
        calibration_ok=m["calibration_ok"],
        calibration_age_s=max(0.0, now - m["calibrated_at"]),
        est_fidelity=m["est_fidelity"],
        compliance_domains=frozenset(m["compliance_domains"]),
        is_simulator=m["is_simulator"],
    )


def build_snapshot(
    now: float,
    waiting: Sequence[RowLike],
    live_leases: Sequence[RowLike],
    fleet: Sequence[RowLike],
    usage: Sequence[RowLike],
) -> tuple[Snapshot, dict[str, RowLike]]:
    """The snapshot of `waiting` requests, `live_leases`, devices and settled usage, and
    the waiting requests' rows by job id."""
    rows = {row.job_id: row for row in waiting}
    snapshot = Snapshot(
        now=now,
        waiting=tuple(request_from_row(row) for row in rows.values()),
        leases=tuple(lease_from_row(row) for row in live_leases),
        devices=tuple(device_from_row(row, now) for row in fleet),
        usage={row.tenant: TenantUsage(row.tenant, row.decayed_qpu_seconds, row.as_of)
               for row in usage},
    )
    return snapshot, rows
