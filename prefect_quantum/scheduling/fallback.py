"""Simulator fallback and rejection [B1..B7], [C2]."""

from __future__ import annotations

import math

from prefect_quantum.scheduling.config import PolicyConfig
from prefect_quantum.scheduling.model import (
    DeviceState,
    Fallback,
    FallbackMode,
    Rejection,
    Request,
)


def fallback_mode(request: Request, config: PolicyConfig) -> FallbackMode:
    """The request's own mode, else the configured default ([B5])."""
    return config.fallback_default if request.fallback is None else request.fallback


def fall_back(
    request: Request,
    simulators: tuple[DeviceState, ...],
    reason: str,
    config: PolicyConfig,
    *,
    simulators_listed: bool,
    permanent: bool,
) -> Fallback | Rejection | None:
    """Send `request` to a permitted simulator, reject it, or (mode `none` on a
    transient cause) leave it waiting by returning None ([B5], [C2])."""
    mode = fallback_mode(request, config)
    if mode is FallbackMode.NONE:
        if permanent:
            return Rejection(request.job_id, f"{reason}; fallback mode is 'none'")
        return None
    if simulators:
        return Fallback(request.job_id, mode, simulators[0].name, reason)
    if request.compliance_domain is None and not simulators_listed:
        return Fallback(request.job_id, mode, None, reason)
    what = (
        f"authorized for {request.compliance_domain!r}"
        if request.compliance_domain is not None
        else f"with {request.num_qubits} qubits"
    )
    return Rejection(request.job_id, f"[C2] {reason}; no online simulator {what}")


def can_start_in_time(earliest_start: float, request: Request) -> bool:
    """False when even the optimistic earliest start misses `L_r` ([B1])."""
    latest = request.latest_start
    return math.isinf(latest) or earliest_start <= latest
