"""Prefect Blocks: the saved configuration of the fleet and of the scheduler.

A Block holds configuration only; it builds the core objects (:class:`~prefect_quantum.fleet.Fleet`,
:class:`~prefect_quantum.scheduling.PolicyConfig`, the store) on demand.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from prefect.blocks.core import Block
from prefect.blocks.core import schema_extra as prefect_block_schema_extra
from pydantic import ConfigDict, Field, SecretStr, Strict, field_validator, model_validator

from prefect_quantum.credentials import QuantumTenantCredentials
from prefect_quantum.errors import InvalidInputError
from prefect_quantum.names import check_name
from prefect_quantum.scheduling import PolicyConfig
from prefect_quantum.scheduling.model import FallbackMode

if TYPE_CHECKING:
    from prefect_quantum.fleet import Fleet
    from prefect_quantum.scheduler import SchedulerReserver, SchedulerSession
    from prefect_quantum.store import SchedulerStore
    from prefect_quantum.store.tenants import TenantView

_DOCS = "https://github.com/prefect-quantum/prefect-quantum/blob/main/docs/scheduling.md"
_LOGO = "https://images.ctfassets.net/gm98wzqotmnx/08yCE6xpJMX9Kjl5VArDS/c2ede674c20f90b9b6edeab71feffac9/prefect-200x200.png?h=250"


def _closed_block_schema(schema: dict[str, Any], model: type[Block]) -> None:
    """Prefect's block schema, closed to properties it does not declare."""
    prefect_block_schema_extra(schema, model)
    schema["additionalProperties"] = False


_Number = Annotated[float, Strict()]
"""A number: ints are taken, bools and strings are refused rather than coerced."""
_DEFAULT_DEVICES = (
    "ibm_strasbourg", "ibm_brussels", "ibm_kyiv", "ibm_torino", "ibm_fez", "ibm_kawasaki",
)


class QuantumFleet(Block):
    """The simulated QPUs: which IBM devices and which month's calibration snapshots.

    Example:
        ```python
        from prefect_quantum.blocks import QuantumFleet

        fleet = QuantumFleet.load("BLOCK_NAME").fleet()
        ```
    """

    _block_type_name: ClassVar[str] = "Quantum Fleet"
    _block_type_slug: ClassVar[str] = "quantum-fleet"
    _logo_url: ClassVar[Any] = _LOGO
    _documentation_url: ClassVar[Any] = _DOCS
    _description: ClassVar[str] = "Simulated QPUs built from real IBM calibration snapshots."

    # Finite numbers only, and checked again on assignment, so a saved block is valid.
    model_config = ConfigDict(allow_inf_nan=False, validate_assignment=True)

    devices: list[str] = Field(
        default_factory=lambda: list(_DEFAULT_DEVICES),
        min_length=1,
        max_length=64,
        description="IBM device names whose calibration snapshots make up the fleet.",
    )
    month: Literal["01_2025", "02_2025", "03_2025"] = Field(
        "03_2025", description="Which month's calibration snapshots to load."
    )
    time_scale: _Number = Field(
        0.0, ge=0, le=1000,
        description="Wall seconds slept per simulated QPU second; 0 never sleeps.",
    )
    compliance: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Devices authorized for each compliance domain, by domain name.",
    )
    compliance_fallbacks: dict[str, list[Literal["noisy", "ideal"]]] = Field(
        default_factory=dict,
        description="Fallback simulators a job of each compliance domain may use; a "
        "restricted job whose domain is absent fails rather than fall back.",
    )

    @field_validator("devices")
    @classmethod
    def _device_names(cls, value: list[str]) -> list[str]:
        for device in value:
            check_name(device, "devices")
        if len(set(value)) != len(value):
            raise ValueError("devices: expected each device once")
        if set(value) - set(_DEFAULT_DEVICES):
            from prefect_quantum.fleet.catalog import canonical_name  # imports the fleet

            for device in value:
                canonical_name(device)
        return value

    @model_validator(mode="before")
    @classmethod
    def _compliance_names(cls, data: Any) -> Any:
        # Before the fields, so a refused assignment leaves the block as it was.
        if not isinstance(data, dict):
            return data
        devices = data.get("devices", _DEFAULT_DEVICES)
        compliance = data.get("compliance") or {}
        if not isinstance(compliance, dict) or not isinstance(devices, list | tuple):
            return data  # the fields' own validation says what is wrong
        for domain, names in compliance.items():
            check_name(domain, "compliance")
            unknown = sorted(set(names) - set(devices)) if isinstance(names, list) else []
            if unknown:
                raise ValueError(f"compliance: {domain!r} names devices not in the fleet: "
                                 f"{unknown[:5]}; expected some of devices")
        for domain in data.get("compliance_fallbacks") or {}:
            if domain not in compliance:
                raise ValueError(f"compliance_fallbacks: {domain!r} is not a domain of "
                                 "compliance; expected one of its keys")
        return data

    def fleet(self) -> Fleet:
        """Build the fleet this block describes."""
        from prefect_quantum.fleet import ComplianceRules, Fleet, FleetConfig

        return Fleet.from_config(
            FleetConfig(devices=tuple(self.devices), month=self.month, time_scale=self.time_scale),
            compliance=ComplianceRules.of(self.compliance, self.compliance_fallbacks),
        )


class QuantumScheduler(Block):
    """A durable fair-share scheduler for the QPU fleet, shared by every flow that loads it.

    Example:
        ```python
        from prefect_quantum import hybrid_job
        from prefect_quantum.blocks import QuantumScheduler

        scheduler = QuantumScheduler.load("BLOCK_NAME")
        hybrid_job(["ghz:5"], shots=4000, tenant="chem-team", priority="high",
                   scheduler=scheduler)
        ```
    """

    # Every field has a default, so without this a flow parameter's `{"$ref": ...}` block
    # reference (what the UI sends) would also match the block's own schema, and Prefect's
    # server refuses parameters that match both branches of its oneOf.
    model_config = ConfigDict(
        json_schema_extra=_closed_block_schema, allow_inf_nan=False, validate_assignment=True,
        hide_input_in_errors=True,  # the store URL may hold a password
    )

    _block_type_name: ClassVar[str] = "Quantum Scheduler"
    _block_type_slug: ClassVar[str] = "quantum-scheduler"
    _logo_url: ClassVar[Any] = _LOGO
    _documentation_url: ClassVar[Any] = _DOCS
    _description: ClassVar[str] = (
        "Fair-share, priority-preempting scheduler with retries and simulator fallback."
    )

    store_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the scheduler store; a SQLite file in the user data "
        "directory when empty.",
    )
    fleet_config: QuantumFleet = Field(
        default_factory=QuantumFleet, description="The devices this scheduler shares."
    )
    shares: dict[str, Annotated[float, Strict()]] = Field(
        default_factory=dict, description="Relative share of QPU time per tenant."
    )
    default_share: _Number = Field(1.0, gt=0, description="Share of tenants not listed in shares.")
    half_life_s: _Number = Field(
        86_400.0, gt=0, description="Half-life of past usage in fair-share, in seconds."
    )
    priority_classes: dict[str, Annotated[int, Strict()]] = Field(
        default_factory=lambda: {"low": 0, "normal": 1, "high": 2, "urgent": 3},
        description="Priority class names and levels; a higher level may preempt a lower one.",
    )
    preemption_grace_s: _Number = Field(
        60.0, ge=0, description="How long a higher class waits for a free QPU before preempting."
    )
    min_run_s: _Number = Field(
        120.0, ge=0, description="Minimum run time before a job may be preempted, in seconds."
    )
    max_preemptions_per_job: int = Field(
        2, ge=0, le=1000, strict=True, description="How often one job may be preempted at most."
    )
    weight_time: _Number = Field(1.0, ge=0, description="Placement weight of completion time.")
    weight_fidelity: _Number = Field(
        1.0, ge=0, description="Placement weight of estimated fidelity."
    )
    calibration_max_age_s: _Number = Field(
        86_400.0, gt=0, description="Calibration older than this makes a device ineligible."
    )
    fallback: Literal["noisy", "ideal", "none"] = Field(
        "noisy", description="Simulator used when no QPU can serve a job in time."
    )
    retries: int = Field(
        3, ge=0, le=50, strict=True, description="Retries of transient execution failures."
    )
    retry_backoff_s: _Number = Field(
        1.0, ge=0, description="First retry delay; each further retry doubles it."
    )
    retry_jitter_factor: _Number = Field(
        0.5, ge=0, description="Random jitter added to each retry delay, as a fraction of it."
    )
    lease_ttl_s: _Number = Field(
        30.0, gt=0, description="A lease expires unless heartbeated within this many seconds."
    )
    credentials: QuantumTenantCredentials | None = Field(
        None,
        description="The tenant this scheduler acts as, once the store has registered "
        "tenants; jobs of other tenants are refused.",
    )
    calibration_managed: Annotated[bool, Strict()] = Field(
        False,
        description="True when a calibration-sweep deployment keeps the shared calibration "
        "ages; otherwise every run refreshes them from its own fleet.",
    )

    @field_validator("shares")
    @classmethod
    def _positive_shares(cls, value: dict[str, float]) -> dict[str, float]:
        for tenant, share in value.items():
            check_name(tenant, "shares")
            if not share > 0:
                raise ValueError(f"share of {tenant!r} must be > 0")
        return value

    @field_validator("priority_classes")
    @classmethod
    def _priority_classes(cls, value: dict[str, int]) -> dict[str, int]:
        if not 1 <= len(value) <= 16:
            raise ValueError("priority_classes: expected 1 to 16 classes")
        for name, level in value.items():
            check_name(name, "priority_classes")
            if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 1000:
                raise ValueError(f"priority_classes: level of {name!r} must be an int in 0..1000")
        return value

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: SecretStr | None) -> SecretStr | None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if value is None:
            return None
        if any(ord(c) < 32 or ord(c) == 127 for c in value.get_secret_value()):
            raise ValueError("store_url: expected a URL without control characters")
        try:
            backend = make_url(value.get_secret_value()).get_backend_name()
        except (ArgumentError, ValueError):
            raise ValueError(
                "store_url: expected a SQLAlchemy URL such as sqlite:///path/scheduler.db or "
                "postgresql+psycopg://user@host/db"
            ) from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"store_url: expected a sqlite or postgresql URL, got {backend}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _some_placement_weight(cls, data: Any) -> Any:
        # Before the fields, so a refused assignment leaves the block as it was; the
        # fields' own constraints cover every other rule of PolicyConfig.
        if isinstance(data, dict) and data.get("weight_time", 1.0) == 0 == data.get(
                "weight_fidelity", 1.0):
            raise ValueError("weight_time: weight_time and weight_fidelity are both 0; "
                             "expected one of them > 0")
        return data

    def policy(self) -> PolicyConfig:
        """The policy core's configuration."""
        return PolicyConfig(
            shares=self.shares,
            default_share=self.default_share,
            half_life_s=self.half_life_s,
            priority_classes=self.priority_classes,
            preemption_grace_s=self.preemption_grace_s,
            min_run_s=self.min_run_s,
            max_preemptions_per_job=self.max_preemptions_per_job,
            weight_time=self.weight_time,
            weight_fidelity=self.weight_fidelity,
            calibration_max_age_s=self.calibration_max_age_s,
            fallback_default=FallbackMode(self.fallback),
            retries=self.retries,
            lease_ttl_s=self.lease_ttl_s,
        )

    def url(self) -> str:
        """The store URL in clear."""
        from prefect_quantum.store import default_url

        return self.store_url.get_secret_value() if self.store_url else default_url()

    @cached_property
    def store(self) -> SchedulerStore:
        """The store, opened once per block instance."""
        from prefect_quantum.store import SchedulerStore

        return SchedulerStore(self.url(), self.policy(), lease_ttl_s=self.lease_ttl_s)

    @cached_property
    def tenant_view(self) -> TenantView:
        """The store as `credentials` may use it ([T2], [T3]), authenticated once per
        block instance."""
        from prefect_quantum.store.tenants import connect

        credentials = self.credentials.credentials() if self.credentials else None
        return connect(self.store, credentials)

    @cached_property
    def fleet(self) -> Fleet:
        """The fleet, built once per block instance."""
        return self.fleet_config.fleet()

    def reserver(self) -> SchedulerReserver:
        """A reserver that grants leases through the store."""
        from prefect_quantum.scheduler import SchedulerReserver

        return SchedulerReserver(self)

    def session(
        self,
        *,
        tenant: str = "default",
        priority: str = "normal",
        num_qubits: int = 1,
        shots: int = 4000,
        circuits_per_iteration: int = 1,
        devices: Sequence[str] | None = None,
        max_duration_s: float = 3600.0,
        idle_timeout_s: float = 300.0,
        job_id: str | None = None,
    ) -> AbstractContextManager[SchedulerSession]:
        """Hold a device across the iterations of a variational loop ([L4]).

        The session is charged to ``tenant`` and yields its device between iterations
        when a higher class asks for it, then waits for a device again.
        """
        from prefect_quantum.reservation import ReservationRequest
        from prefect_quantum.scheduler import open_session

        self.priority_level(priority)
        allowed = [self.fleet.get(d) for d in devices] if devices else self.fleet.online()
        ranked = sorted(
            (d for d in allowed if d.num_qubits >= num_qubits and d.online),
            key=lambda d: (d.calibration.error_score, d.name),
        )
        if not ranked:
            raise InvalidInputError("num_qubits", f"no online device has {num_qubits} qubits")
        request = ReservationRequest(
            job_id=job_id or f"session-{uuid.uuid4().hex[:12]}",
            tenant=tenant,
            priority=priority,
            candidates=tuple(d.name for d in ranked),
            max_wait_s=300.0,
            fallback=self.fallback,
            fallback_device=ranked[0].name,
            num_qubits=num_qubits,
            shots=shots,
            circuit_shots=shots * circuits_per_iteration,
        )
        return open_session(
            self.reserver(), request, max_duration_s=max_duration_s,
            idle_timeout_s=idle_timeout_s,
        )

    def priority_level(self, name: str) -> int:
        """The level of a named class; InvalidInputError naming ``priority`` otherwise."""
        if name not in self.priority_classes:
            raise InvalidInputError(
                "priority",
                f"unknown class {name!r}; expected one of {sorted(self.priority_classes)}",
            )
        return self.priority_classes[name]
