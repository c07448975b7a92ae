"""`prefect-quantum bench ...`: the policy benchmark and the ICPP 2025 reproduction.

Mounted by the main CLI as `app.add_typer(bench_app, name="bench")`. Bad input exits with
code 2 and a message naming the input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from prefect_quantum.errors import InvalidInputError

bench_app = typer.Typer(help="Benchmarks: scheduling policies and the ICPP 2025 scenario.",
                        no_args_is_help=True)
T = TypeVar("T")


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except InvalidInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _emit(rows: list[dict[str, object]], as_json: bool) -> None:
    if as_json:
        json.dump(rows, sys.stdout, indent=1, default=float)
        sys.stdout.write("\n")
        return
    if not rows:
        return
    keys = list(dict.fromkeys(k for row in rows for k in row))
    typer.echo("\t".join(keys))
    for row in rows:
        typer.echo("\t".join(_cell(row.get(k, "")) for k in keys))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 1000 else f"{value:.6g}"
    return str(value)


@bench_app.command("policies")
def policies(
    scenario: Annotated[str | None, typer.Option(
        help="calm or degraded (default: both)")] = None,
    seeds: Annotated[int, typer.Option(help="seeds per scenario")] = 20,
    trace: Annotated[Path | None, typer.Option(
        help="a trace CSV (ICPP columns plus ours) instead of generated traces")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per policy")] = False,
    out: Annotated[Path | None, typer.Option(
        help="write report.md and PNG plots into this directory")] = None,
) -> None:
    """Run every policy, production's `decide` included, on the simulated fleet."""
    from prefect_quantum.simulation.bench import run_bench, summarize
    from prefect_quantum.simulation.fleet_model import scenario as lookup
    from prefect_quantum.simulation.trace import load_trace

    def go() -> None:
        scenarios = ["calm", "degraded"] if scenario is None else [lookup(scenario).name]
        jobs = load_trace(trace) if trace is not None else None
        bench = run_bench(scenarios, seeds, jobs)
        rows = summarize(bench.runs).to_dicts()
        _emit(rows, as_json)
        if out is not None:
            from prefect_quantum.simulation.report import write_report

            path = write_report(out, None, bench)
            typer.echo(f"report: {path}", err=True)

    _guard(go)


@bench_app.command("icpp2025")
def icpp2025(
    jobs: Annotated[Path | None, typer.Option(
        help="workload CSV (default: the paper's 1000-large-circuits.csv)")] = None,
    policy: Annotated[str | None, typer.Option(
        help="speed, fidelity, fair, ppo (quoted), ours, ours-fast, ours-fidelity "
             "(default: all)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per policy")] = False,
    out: Annotated[Path | None, typer.Option(
        help="write report.md and the fidelity-vs-makespan PNG into this directory")] = None,
) -> None:
    """Reproduce Table 2 of the ICPP 2025 paper, with our policy and the LP bound."""
    from prefect_quantum.simulation.icpp_model import DEFAULT_JOBS, load_jobs
    from prefect_quantum.simulation.report import ICPP_POLICIES, icpp_report

    def go() -> None:
        if policy is not None and policy not in ICPP_POLICIES:
            raise InvalidInputError("policy", f"unknown policy {policy!r}; choose from "
                                    f"{list(ICPP_POLICIES)}")
        loaded = load_jobs(jobs if jobs is not None else DEFAULT_JOBS)
        names = ICPP_POLICIES if policy is None else (policy,)
        curve = (30_000.0, 60_000.0, 90_000.0, 120_000.0, 160_000.0, 210_000.0) if out else ()
        report = icpp_report(loaded, names, curve)
        _emit(report.rows, as_json)
        if out is not None:
            from prefect_quantum.simulation.report import write_report

            typer.echo(f"report: {write_report(out, report, None)}", err=True)

    _guard(go)
