"""The values `decide` reads and writes; units and rules are in docs/scheduling.md."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from prefect_quantum.errors import InvalidInputError

Signature = tuple[int, frozenset[str] | None, str | None]


class FallbackMode(StrEnum):
    """Which simulator a job falls back to, or never ([B5])."""

    NOISY = "noisy"
    IDEAL = "ideal"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Request:
    """A job waiting for a QPU; `work_s` is QPU-seconds at `reference_clops`.

    Derived on construction, so a pass never rebuilds them: `age_key` is
    `(submitted_at, job_id)`, the age order of [F3]; `signature` is `(num_qubits,
    allowed_devices, compliance_domain)`, what eligibility depends on [A1]; `bucket_key` is
    `(priority_class, tenant)`; `latest_start` is `L_r` of [B1].
    """

    job_id: str
    tenant: str
    priority_class: int
    submitted_at: float
    work_s: float
    num_qubits: int
    allowed_devices: frozenset[str] | None = None
    compliance_domain: str | None = None
    preemptible: bool = True
    max_wait_s: float = math.inf
    deadline: float | None = None
    preemption_count: int = 0
    shots_done: int = 0
    shots_total: int = 1
    fallback: FallbackMode | None = None
    retries_used: int = 0
    # Precomputed once per request so a pass sorts and groups without building tuples.
    age_key: tuple[float, str] = field(init=False, repr=False, compare=False)
    signature: Signature = field(init=False, repr=False, compare=False)
    bucket_key: tuple[int, str] = field(init=False, repr=False, compare=False)
    latest_start: float = field(init=False, repr=False, compare=False)
    remaining_work_s: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "age_key", (self.submitted_at, self.job_id))
        if self.shots_total >= 1 and 0 <= self.shots_done <= self.shots_total:
            remaining = self.work_s * (1.0 - self.shots_done / self.shots_total)
        else:
            remaining = self.work_s  # rejected below
        # QPU-seconds still to run at reference speed (checkpointed shots excluded).
        setattr_(self, "remaining_work_s", remaining)
        setattr_(self, "signature", (self.num_qubits, self.allowed_devices, self.compliance_domain))
        setattr_(self, "bucket_key", (self.priority_class, self.tenant))
        latest = self.submitted_at + self.max_wait_s
        if self.deadline is not None:
            latest = min(latest, self.deadline - self.remaining_work_s)
        setattr_(self, "latest_start", latest)
        if not self.job_id:
            raise InvalidInputError("job_id", "must be a non-empty string")
        if isinstance(self.priority_class, bool) or not isinstance(self.priority_class, int):
            raise InvalidInputError(
                "priority_class", f"must be an int (see PolicyConfig.class_of), "
                f"got {self.priority_class!r}"
            )
        if not math.isfinite(self.submitted_at):
            raise InvalidInputError("submitted_at", f"must be finite, got {self.submitted_at!r}")
        if not self.work_s >= 0 or math.isinf(self.work_s):
            raise InvalidInputError("work_s", f"must be finite and >= 0, got {self.work_s!r}")
        if self.num_qubits < 1:
            raise InvalidInputError("num_qubits", f"must be >= 1, got {self.num_qubits!r}")
        if self.shots_total < 1 or not 0 <= self.shots_done <= self.shots_total:
            raise InvalidInputError(
                "shots_done", f"must be in 0..shots_total ({self.shots_total}), "
                f"got {self.shots_done!r}"
            )
        if not self.max_wait_s >= 0:
            raise InvalidInputError("max_wait_s", f"must be >= 0, got {self.max_wait_s!r}")


@dataclass(frozen=True, slots=True)
class Lease:
    """A job holding a device; `work_*` are device-seconds under this lease."""

    job_id: str
    device: str
    tenant: str
    priority_class: int
    started_at: float
    expires_at: float
    preemptible: bool = True
    compliance_domain: str | None = None
    preemption_requested: bool = False
    preemption_count: int = 0
    work_done_s: float = 0.0
    checkpointed_s: float = 0.0
    work_remaining_s: float = 0.0
    is_session: bool = False
    idle_since: float | None = None
    submitted_at: float | None = None  # the job's original submission, for aging [P1]

    @property
    def work_lost_s(self) -> float:
        """Work a preemption would throw away: done but not checkpointed ([P6])."""
        return max(0.0, self.work_done_s - self.checkpointed_s)


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A QPU or a fallback simulator as the fleet reports it at `now`."""

    name: str
    online: bool
    num_qubits: int
    speed: float
    calibration_ok: bool = True
    calibration_age_s: float = 0.0
    est_fidelity: float = 1.0
    compliance_domains: frozenset[str] = frozenset()
    is_simulator: bool = False

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise InvalidInputError("speed", f"{self.name}: must be > 0 CLOPS, got {self.speed!r}")
        if not 0 < self.est_fidelity <= 1:
            raise InvalidInputError(
                "est_fidelity", f"{self.name}: must be in (0, 1], got {self.est_fidelity!r}"
            )


@dataclass(frozen=True, slots=True)
class TenantUsage:
    """A tenant's settled ledger value, decayed up to `as_of` ([F1])."""

    tenant: str
    decayed_qpu_seconds: float
    as_of: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything `decide` may look at; `now` is the only clock it reads."""

    now: float
    waiting: tuple[Request, ...] = ()
    leases: tuple[Lease, ...] = ()
    devices: tuple[DeviceState, ...] = ()
    usage: Mapping[str, TenantUsage] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Grant:
    """Start `job_id` on `device` now ([A2])."""

    job_id: str
    device: str
    reason: str
    est_duration_s: float


@dataclass(frozen=True, slots=True)
class Preemption:
    """Ask `victim_job_id` to yield `device` to `by_job_id` (SimPy's `Preempted`, [P7])."""

    victim_job_id: str
    by_job_id: str
    device: str
    usage_since: float
    reason: str


@dataclass(frozen=True, slots=True)
class Fallback:
    """Run `job_id` on a simulator; `simulator` None is the default local one ([B5])."""

    job_id: str
    simulator_kind: FallbackMode
    simulator: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Expiration:
    """A lease that ran out; its job is re-queued by the store ([L3])."""

    job_id: str
    device: str
    reason: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """A request no QPU and no permitted simulator can serve ([C2], [B5])."""

    job_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decisions:
    """The outcome of one pass, each list in the order it was decided."""

    grants: tuple[Grant, ...] = ()
    preemptions: tuple[Preemption, ...] = ()
    fallbacks: tuple[Fallback, ...] = ()
    expirations: tuple[Expiration, ...] = ()
    rejections: tuple[Rejection, ...] = ()
