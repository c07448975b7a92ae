"""What a user asks for: one validated, typed job request.

Everything a job needs is checked here, before anything is compiled, enqueued or written:
a bad field raises :class:`~prefect_quantum.errors.InvalidInputError` naming it.
"""

from __future__ import annotations

import numbers
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
)
from qiskit import QuantumCircuit

from prefect_quantum.circuits import NamedCircuit, resolve_circuit
from prefect_quantum.errors import InvalidInputError
from prefect_quantum.names import NAME_PATTERN, NAME_RULE, is_name, shown
from prefect_quantum.observables import check_pauli_label

MitigationName = Literal["none", "zne", "rem", "zne+rem"]
FallbackName = Literal["noisy", "ideal", "none"]
PriorityName = Literal["low", "normal", "high", "urgent"]
TENANT_PATTERN = NAME_PATTERN
"""Tenant names follow the one name rule of :mod:`prefect_quantum.names`."""
MAX_CIRCUITS = 1000
MAX_JOB_TEXT_CHARS = 2_000_000
"""The most characters of circuit text (QASM, names, paths) in one job."""
MAX_JOB_OPERATIONS = 1_000_000
"""The most operations of all a job's circuits together, as given (before transpiling)."""


def _name(value: str) -> str:
    if not is_name(value):
        raise ValueError(f"expected {NAME_RULE}")
    return value


Name = Annotated[str, Strict(), AfterValidator(_name)]
"""A string following the name rule (tenants, job ids, devices, compliance domains)."""
def _integer(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError("expected an integer")
    return int(value)


Int = Annotated[int, BeforeValidator(_integer)]
"""An int (numpy's too); bools, floats and strings are refused rather than coerced."""
Float = Annotated[float, Strict(), Field(allow_inf_nan=False)]
"""A finite number; ints are taken, bools and strings are refused."""


class ZNEOptions(BaseModel):
    """How zero-noise extrapolation scales and extrapolates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale_factors: tuple[Annotated[Float, Field(ge=1.0, le=100.0)], ...] = Field(
        (1.0, 3.0, 5.0), min_length=2, max_length=16,
        description="Noise scale factors; odd integers for global folding.",
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

    devices: tuple[Name, ...] | None = Field(
        None, max_length=64, description="Devices the job may run on; all devices when empty."
    )
    compliance_domain: Name | None = Field(
        None, description="Compliance domain; only devices authorized for it are used."
    )
    max_wait_s: Float = Field(
        300.0, ge=0, le=7 * 86400, description="Longest wait for a QPU before falling back."
    )
    fallback: FallbackName = Field(
        "noisy", description="Simulator used when no QPU can serve the job."
    )
    seed: Int = Field(1234, ge=0, le=2**31 - 1, description="Seed for transpiling and sampling.")
    optimization_level: Int = Field(
        2, ge=0, le=3, description="Qiskit transpiler level; 2 picks low-error qubits."
    )
    chunk_shots: Int = Field(
        1000, gt=0, le=1_000_000, description="Shots per chunk between preemption checks."
    )
    checkpoint_interval_s: Float = Field(
        5.0, ge=0, le=3600,
        description="Save partial counts at most this often while running; 0 after every chunk.",
    )
    calibration_max_age_s: Float = Field(
        86400.0, gt=0, le=365 * 86400,
        description="Calibration older than this makes a device ineligible.",
    )
    zne: ZNEOptions = Field(default_factory=ZNEOptions, description="ZNE settings.")
    job_id: Name | None = Field(None, description="Idempotency key; a new id when empty.")


class JobRequest(BaseModel):
    """A validated hybrid job: circuits, shots, what to measure, who asks, and how."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    circuits: Annotated[list[NamedCircuit], Field(min_length=1, max_length=MAX_CIRCUITS)]
    shots: Int = Field(4000, gt=0, le=10_000_000)
    observables: list[str | None] | None = None
    mitigation: MitigationName = "none"
    tenant: Name = "default"
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
        if not isinstance(circuits, list | tuple) or len(circuits) == 0:
            raise InvalidInputError(
                "circuits", f"expected a list of at least one circuit, got {shown(circuits)}"
            )
        if len(circuits) > MAX_CIRCUITS:
            raise InvalidInputError("circuits", f"at most {MAX_CIRCUITS} circuits per job")
        text = sum(len(c) for c in circuits if isinstance(c, str))
        if text > MAX_JOB_TEXT_CHARS:
            raise InvalidInputError(
                "circuits", f"{text} characters of circuit text; at most {MAX_JOB_TEXT_CHARS}"
            )
        named: list[NamedCircuit] = []
        operations = 0
        for i, c in enumerate(circuits):
            named.append(resolve_circuit(c, field=f"circuits[{i}]"))
            operations += named[-1].circuit.size()
            if operations > MAX_JOB_OPERATIONS:
                raise InvalidInputError(
                    "circuits", f"more than {MAX_JOB_OPERATIONS} operations in all; expected "
                    "fewer or smaller circuits per job"
                )
        obs = _normalise_observables(observables, [c.circuit.num_qubits for c in named])
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
        if "zne" in request.mitigation:
            _check_zne(request)
        return request.model_copy(update={"job_id": request.options.job_id or uuid.uuid4().hex})


def _check_zne(request: JobRequest) -> None:
    """The ZNE options as the mitigation layer will use them (imported only for ZNE)."""
    from prefect_quantum.mitigation.zne import ZNEConfig

    z = request.options.zne
    try:
        ZNEConfig(scale_factors=z.scale_factors, factory=z.factory, folding=z.folding)
    except InvalidInputError as exc:
        raise InvalidInputError(
            f"options.zne.{exc.field}", str(exc).removeprefix(f"{exc.field}: ")
        ) from None


def _normalise_observables(
    observables: str | Sequence[str | None] | None, widths: list[int]
) -> list[str | None] | None:
    """One checked Pauli label (or None) per circuit; one string applies to all."""
    if observables is None:
        return None
    if isinstance(observables, str):
        observables = [observables] * len(widths)
    if not isinstance(observables, list | tuple):
        raise InvalidInputError(
            "observables",
            f"expected a Pauli string or one per circuit, got {type(observables).__name__}",
        )
    if len(observables) != len(widths):
        raise InvalidInputError(
            "observables",
            f"expected one observable per circuit ({len(widths)}), got {len(observables)}",
        )
    return [
        None if item is None else check_pauli_label(item, width, field=f"observables[{i}]")
        for i, (item, width) in enumerate(zip(observables, widths, strict=True))
    ]


def _as_input_error(exc: ValidationError) -> InvalidInputError:
    """The first pydantic error, as our error naming the field with its dotted path and
    saying what was expected and what was given."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "request"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        model: type[BaseModel] = JobRequest
        for part in err["loc"][:-1]:
            annotation = model.model_fields[str(part)].annotation
            model = annotation if isinstance(annotation, type) else model
        message = f"unknown field; expected one of {', '.join(model.model_fields)}"
    return InvalidInputError(field, f"{message} (got {shown(err.get('input'), 80)})")
