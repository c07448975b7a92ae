"""The ``prefect-quantum`` command line (Typer, like Prefect's own CLI).

Bad input exits with code 2 and a message naming the input, before any flow run starts.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from prefect_quantum.cli_tenants import SecretOption, TenantOption, scoped, tenant_app
from prefect_quantum.errors import InvalidInputError, PrefectQuantumError

app = typer.Typer(
    name="prefect-quantum",
    help="Run hybrid quantum-classical jobs as Prefect flows on a shared, simulated QPU fleet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True)
T = TypeVar("T")

ROW_KEYS = (
    "circuit", "device", "backend_kind", "shots", "calibration_snapshot", "raw_value",
    "mitigated_value", "stderr", "mitigation", "estimated_fidelity", "job_id",
)


def main() -> None:
    """Entry point of the console script."""
    # Offline machines: Prefect's telemetry would only log errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    app()


def _guard(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn our errors into a one-line message and exit code 2 (input) or 1."""
    try:
        return fn()
    except InvalidInputError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except PrefectQuantumError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


@contextmanager
def quick_flows() -> Iterator[None]:
    """Prefect settings for short interactive runs: no flow heartbeat thread.

    Every flow run otherwise ends by joining a heartbeat thread that sleeps in 1 s steps;
    the environment variable cannot turn it off, ``temporary_settings`` can.
    """
    from prefect.settings import temporary_settings

    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        yield


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[None]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from prefect_quantum import progress

    if not enabled:
        yield
        return
    with Progress(
        TextColumn("shots"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
    ) as bar:
        tasks: dict[str, Any] = {}

        def listener(job_id: str, done: int, total: int) -> None:
            if job_id not in tasks:
                tasks[job_id] = bar.add_task(job_id, total=total)
            bar.update(tasks[job_id], completed=done, total=total)

        with progress.listening(listener):
            yield


@app.command()
def run(
    circuits: Annotated[
        list[str], typer.Argument(help="Built-ins (ghz:5, hea:8, bell), .qasm files or QASM text.")
    ],
    shots: Annotated[int, typer.Option(help="Shots per circuit.")] = 4000,
    mitigation: Annotated[str, typer.Option(help="none, zne, rem or zne+rem.")] = "none",
    observable: Annotated[
        str | None, typer.Option(help="A Pauli string measured on every circuit, e.g. ZZI.")
    ] = None,
    tenant: Annotated[str, typer.Option(help="Who the QPU time is charged to.")] = "default",
    priority: Annotated[str, typer.Option(help="low, normal, high or urgent.")] = "normal",
    device: Annotated[
        list[str] | None, typer.Option(help="Allowed device (repeatable); all by default.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for transpiling and sampling.")] = 1234,
    fallback: Annotated[str, typer.Option(help="Fallback simulator: noisy, ideal or none.")] = (
        "noisy"
    ),
    scheduler: Annotated[
        str | None,
        typer.Option(help="Saved QuantumScheduler block to queue through ('default' works "
                     "unsaved: the default SQLite store)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """Run the hybrid_job flow on the local Prefect API and print one row per circuit."""
    from prefect_quantum.job import JobRequest

    options = {"seed": seed, "fallback": fallback, "devices": tuple(device) if device else None}
    kwargs: dict[str, Any] = dict(
        observables=observable, mitigation=mitigation, tenant=tenant, priority=priority,
        options=options,
    )
    # Validate everything before Prefect starts, so bad input never creates a flow run.
    request = _guard(lambda: JobRequest.build(circuits, shots, **kwargs))
    options["job_id"] = request.job_id

    def go() -> Any:
        from prefect_quantum import pipeline
        from prefect_quantum.flows import default_fleet, hybrid_job

        pipeline.prepare(request)
        pipeline.candidate_devices(request, default_fleet())
        with quick_flows(), _progress_bar(not as_json and err.is_terminal):
            if scheduler:
                kwargs["scheduler"] = _load_scheduler(scheduler)
            return hybrid_job(circuits, shots, **kwargs)

    result = _guard(go)
    rows = [{k: row[k] for k in ROW_KEYS} for row in result.to_dicts()]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    columns = ("circuit", "device", "backend_kind", "shots", "raw_value", "mitigated_value",
               "stderr", "mitigation", "estimated_fidelity", "calibration_snapshot")
    table = Table(title=f"hybrid job {result.job_id}")
    for key in columns:
        table.add_column(key, overflow="fold")
    for row in rows:
        table.add_row(*(_fmt(row[k]) for k in columns))
    out.print(table)


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@app.command()
def fleet(
    as_json: Annotated[bool, typer.Option("--json", help="Print the devices as JSON.")] = False,
) -> None:
    """List the devices: status, calibration age, error score, CLOPS."""
    from prefect_quantum.fleet import Fleet

    now = datetime.now(UTC)
    rows = []
    for d in Fleet.default().devices.values():
        cal = d.calibration
        rows.append({
            "device": d.name,
            "qubits": d.num_qubits,
            "two_qubit_gate": cal.two_qubit_gate,
            "clops": cal.clops,
            "quantum_volume": cal.quantum_volume,
            "status": "online" if d.online else "offline",
            "calibration_snapshot": cal.snapshot_id,
            "calibration_age_s": round((now - d.calibrated_at).total_seconds(), 1),
            "error_score": round(cal.error_score, 6),
        })
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title="fleet")
    for key in rows[0]:
        table.add_column(key)
    for row in rows:
        table.add_row(*(_fmt(v) for v in row.values()))
    out.print(table)


def _load_scheduler(name: str) -> Any:
    """A saved scheduler block; ``default`` falls back to the default configuration."""
    from prefect_quantum.blocks import QuantumScheduler

    try:
        return _load_block(name, "scheduler")
    except InvalidInputError:
        if name == "default":
            return QuantumScheduler()
        raise


def _scheduler_store(url: str | None, block: str | None) -> Any:
    """The store of a saved scheduler block, or of a URL (the default SQLite file)."""
    if block is not None:
        return _guard(lambda: _load_block(block)).store
    from sqlalchemy.exc import ArgumentError

    from prefect_quantum.scheduling import PolicyConfig
    from prefect_quantum.store import SchedulerStore

    def open_store() -> Any:
        try:
            if url is not None and not url.strip():
                raise ValueError("empty URL")
            return SchedulerStore(url, PolicyConfig())
        except InvalidInputError:
            raise
        except (ArgumentError, ValueError):  # not echoed: the URL may hold a password
            raise InvalidInputError(
                "url", "expected a SQLAlchemy URL such as sqlite:///path/scheduler.db or "
                "postgresql+psycopg://user@host/db"
            ) from None

    return _guard(open_store)


def _load_block(name: str, field: str = "block") -> Any:
    """A saved QuantumScheduler block; a malformed or unknown name is an InvalidInputError
    naming ``field`` (exit 2)."""
    import re

    from prefect_quantum.blocks import QuantumScheduler

    if re.fullmatch(r"[a-z0-9-]{1,255}", name) is None:  # Prefect's block document names
        raise InvalidInputError(
            field, f"expected a block name of lowercase letters, digits and '-', got {name!r:.80}"
        )
    try:
        return QuantumScheduler.load(name)
    except ValueError:
        raise InvalidInputError(
            field, f"no saved QuantumScheduler block named {name!r}; expected a saved one"
        ) from None


def _print_rows(rows: list[dict[str, Any]], title: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    if not rows:
        out.print(f"{title}: empty")
        return
    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key, overflow="fold")
    for row in rows:
        table.add_row(*(_fmt(v) for v in row.values()))
    out.print(table)


UrlOption = Annotated[
    str | None, typer.Option("--url", help="Store URL; the default SQLite file when omitted.")
]
BlockOption = Annotated[
    str | None, typer.Option("--block", help="Name of a saved QuantumScheduler block.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command()
def queue(
    url: UrlOption = None, block: BlockOption = None, as_json: JsonOption = False,
    all_jobs: Annotated[bool, typer.Option("--all", help="Include finished jobs.")] = False,
    tenant: TenantOption = None, secret: SecretOption = None,
) -> None:
    """Jobs waiting, running or on a fallback simulator, oldest first."""
    store = scoped(_scheduler_store(url, block), tenant, secret)
    _print_rows(store.queue(include_finished=all_jobs), "queue", as_json)


@app.command()
def usage(url: UrlOption = None, block: BlockOption = None, as_json: JsonOption = False,
          tenant: TenantOption = None, secret: SecretOption = None) -> None:
    """QPU-seconds per tenant (decayed), their shares and fair-share standing."""
    store = scoped(_scheduler_store(url, block), tenant, secret)
    _print_rows(store.usage(), "usage", as_json)


def _mount_bench() -> None:
    from prefect_quantum.cli_bench import bench_app

    app.add_typer(bench_app, name="bench", help="Policy and ICPP 2025 benchmarks.")


_mount_bench()
app.add_typer(tenant_app, name="tenant")

audit_app = typer.Typer(help="The scheduler's hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    url: UrlOption = None, block: BlockOption = None, as_json: JsonOption = False
) -> None:
    """Check the audit log's hash chain; exit 1 naming the first altered record."""
    store = _scheduler_store(url, block)
    records = store.audit()
    broken = store.verify_audit()
    report = {"records": len(records), "intact": broken is None, "first_altered_seq": broken}
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
    elif broken is None:
        out.print(f"audit log intact: {len(records)} records")
    else:
        err.print(f"[red]audit log altered:[/red] first bad record is seq {broken}")
    if broken is not None:
        raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    job_id: Annotated[str | None, typer.Argument(help="Only this job's records.")] = None,
    url: UrlOption = None, block: BlockOption = None, as_json: JsonOption = False,
    tenant: TenantOption = None, secret: SecretOption = None,
) -> None:
    """Print audit records, all or one job's (a tenant's own only)."""
    store = scoped(_scheduler_store(url, block), tenant, secret)
    _print_rows(store.audit(job_id), "audit", as_json)
