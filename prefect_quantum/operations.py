"""Operations on the shared fleet: the calibration sweep and the usage report.

Plain functions over a :class:`~prefect_quantum.blocks.QuantumScheduler`; the scheduled
flows in ``flows/`` wrap them with Prefect artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from prefect_quantum.fleet import list_snapshots, load_calibration
from prefect_quantum.scheduler import device_states, emit_device_event

if TYPE_CHECKING:
    from prefect_quantum.blocks import QuantumScheduler


@dataclass(frozen=True)
class DeviceSweep:
    """What the sweep found and did for one device."""

    device: str
    snapshot: str
    previous_snapshot: str | None
    error_score: float
    drift: float | None
    """Relative change of the error score since the previous snapshot."""
    calibration_age_s: float
    status: str
    """``ok``, ``recalibrated``, ``stale`` or ``offline``."""


def calibration_sweep(
    scheduler: QuantumScheduler, *, refresh: bool = True, drift_threshold: float = 0.10
) -> list[DeviceSweep]:
    """Check every device: mark offline ones, detect drift against the previous snapshot,
    and recalibrate (``refresh``) or mark stale the ones older than the freshness bound.
    Each finding is written to the shared store and emitted as a Prefect event."""
    store = scheduler.store
    bound = scheduler.calibration_max_age_s
    stored = {d.name: d for d in store.devices()}
    local = {d.name: d for d in device_states(scheduler.fleet, bound)}
    updates, report = [], []
    for name, qpu in scheduler.fleet.devices.items():
        state = stored.get(name, local[name])
        snapshots = list_snapshots(name)
        current = qpu.calibration.snapshot_id
        base = current.split("+", 1)[0]  # drifted copies carry the real snapshot's id first
        earlier = snapshots[: snapshots.index(base)] if base in snapshots else []
        previous = earlier[-1] if earlier else None
        drift = None
        if previous is not None:
            before = load_calibration(name, previous).error_score
            drift = (qpu.calibration.error_score - before) / before
            if abs(drift) > drift_threshold:
                emit_device_event("drift", name, snapshot=current, previous=previous,
                                  relative_change=drift)
        if not qpu.online:
            status = "offline"
            updates.append(replace(state, online=False))
            emit_device_event("offline", name, snapshot=current)
        elif state.calibration_age_s > bound and refresh:
            status = "recalibrated"
            updates.append(replace(local[name], calibration_age_s=0.0, calibration_ok=True))
            emit_device_event("recalibrated", name, snapshot=current)
        elif state.calibration_age_s > bound:
            status = "stale"
            updates.append(replace(state, calibration_ok=False))
            emit_device_event("stale", name, snapshot=current,
                              calibration_age_s=state.calibration_age_s, bound_s=bound)
        else:
            status = "ok"
        report.append(DeviceSweep(name, current, previous, qpu.calibration.error_score, drift,
                                  state.calibration_age_s, status))
    if updates:
        store.register_devices(updates)
    return report


def usage_report(scheduler: QuantumScheduler) -> dict[str, Any]:
    """Per-tenant usage and standing, with preemption and fallback counts from the audit."""
    store = scheduler.store
    audit = store.audit()
    preemptions: dict[str, int] = {}
    fallbacks: dict[str, int] = {}
    for record in audit:
        tenant = record.get("tenant") or "?"
        if record["kind"] == "preempted":
            preemptions[tenant] = preemptions.get(tenant, 0) + 1
        elif record["kind"] == "fell_back":
            fallbacks[tenant] = fallbacks.get(tenant, 0) + 1
    rows = []
    for usage in store.usage():
        tenant = usage["tenant"]
        rows.append({**usage, "preemptions": preemptions.get(tenant, 0),
                     "fallbacks": fallbacks.get(tenant, 0)})
    return {"tenants": rows, "audit_records": len(audit),
            "audit_intact": store.verify_audit() is None}
