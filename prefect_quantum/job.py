"""What a user asks for: one validated, typed job request.

Everything a job needs is checked here, before anything is compiled, enqueued or written:
a bad field raises :class:`~prefect_quantum.errors.InvalidInputError` naming it.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from qiskit import QuantumCircuit

from prefect_quantum.circuits import NamedCircuit, resolve_circuit
from prefect_quantum.errors import InvalidInputError

MitigationName = Literal["none", "zne", "rem", "zne+rem"]
FallbackName = Literal["noisy", "ideal", "none"]
PriorityName = Literal["low", "normal", "high", "urgent"]
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class ZNEOptions(BaseModel):
    """How zero-noise extrapolation scales and extrapolates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale_factors: tuple[float, ...] = Field(
        (1.0, 3.0, 5.0), description="Noise scale factors; odd integers for global folding."
    )
    factory: Literal["richardson", "linear", "exponential"] = Field(
        "richardson", description="Mitiq extrapolation factory."
    )
    folding: Literal["global", "gates_at_random", "gates_from_left"] = Field(
        "global", description="Mitiq folding method."
    )


class JobOptions(BaseModel):
    """Advanced job settings; every field has a usable default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    devices: tuple[str, ...] | None = Field(
        None, description="Devices the job may run on; all devices when empty."
    )
    compliance_domain: str | None = Field(
        None, description="Compliance domain; only devices authorized for it are used."
    )
    max_wait_s: float = Field(
        300.0, ge=0, le=7 * 86400, description="Longest wait for a QPU before falling back."
    )
    fallback: FallbackName = Field(
        "noisy", description="Simulator used when no QPU can serve the job."
    )
    seed: int = Field(1234, ge=0, le=2**31 - 1, description="Seed for transpiling and sampling.")
    optimization_level: int = Field(
        2, ge=0, le=3, description="Qiskit transpiler level; 2 picks low-error qubits."
    )
    chunk_shots: int = Field(
        1000, gt=0, le=1_000_000, description="Shots per chunk between preemption checks."
    )
    checkpoint_interval_s: float = Field(
        5.0, ge=0, le=3600,
        description="Save partial counts at most this often while running; 0 after every chunk.",
    )
    calibration_max_age_s: float = Field(
        86400.0, gt=0, description="Calibration older than this makes a device ineligible."
    )
    zne: ZNEOptions = Field(default_factory=ZNEOptions, description="ZNE settings.")
    job_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
        description="Idempotency key; a new id when empty.",
    )

    @field_validator("max_wait_s", "calibration_max_age_s")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class JobRequest(BaseModel):
    """A validated hybrid job: circuits, shots, what to measure, who asks, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    circuits: Annotated[list[NamedCircuit], Field(min_length=1, max_length=1000)]
    shots: int = Field(4000, gt=0, le=10_000_000)
    observables: list[str | None] | None = None
    mitigation: MitigationName = "none"
    tenant: str = Field("default", pattern=TENANT_PATTERN)
    priority: PriorityName = "normal"
    options: JobOptions = Field(default_factory=JobOptions)
    job_id: str = ""

    @classmethod
    def build(
        cls,
        circuits: Sequence[str | QuantumCircuit] | str | QuantumCircuit,
        shots: int = 4000,
        *,
        observables: str | Sequence[str | None] | None = None,
        mitigation: str = "none",
        tenant: str = "default",
        priority: str = "normal",
        options: JobOptions | dict[str, Any] | None = None,
    ) -> JobRequest:
        """Validate user input into a request; raises InvalidInputError naming the field."""
        if isinstance(circuits, str | QuantumCircuit):
            circuits = [circuits]
        if not isinstance(circuits, Sequence) or len(circuits) == 0:
            raise InvalidInputError("circuits", "expected at least one circuit")
        if len(circuits) > 1000:
            raise InvalidInputError("circuits", "at most 1000 circuits per job")
        named = [resolve_circuit(c, field=f"circuits[{i}]") for i, c in enumerate(circuits)]
        obs = _normalise_observables(observables, len(named))
        try:
            request = cls(
                circuits=named,
                shots=shots,
                observables=obs,
                mitigation=mitigation,
                tenant=tenant,
                priority=priority,
                options=options if options is not None else JobOptions(),
            )
        except ValidationError as exc:
            raise _as_input_error(exc) from None
        return request.model_copy(update={"job_id": request.options.job_id or uuid.uuid4().hex})


def _normalise_observables(
    observables: str | Sequence[str | None] | None, count: int
) -> list[str | None] | None:
    if observables is None:
        return None
    if isinstance(observables, str):
        return [observables] * count
    items = list(observables)
    if len(items) != count:
        raise InvalidInputError(
            "observables", f"expected one observable per circuit ({count}), got {len(items)}"
        )
    for i, item in enumerate(items):
        if item is not None and not isinstance(item, str):
            raise InvalidInputError(f"observables[{i}]", "expected a Pauli string such as 'ZZI'")
    return items


def _as_input_error(exc: ValidationError) -> InvalidInputError:
    """The first pydantic error, as our error naming the field with its dotted path."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "request"
    return InvalidInputError(field, f"{err['msg']} (got {err.get('input')!r:.80})")
