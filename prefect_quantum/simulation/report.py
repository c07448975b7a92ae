"""The benchmarks as data and markdown: the ICPP table (with the LP bound) and the policy
benchmark's summary and acceptance checks; plots are written next to the report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from prefect_quantum.simulation.bench import BenchRun, acceptance, summarize
from prefect_quantum.simulation.icpp2025 import (
    PAPER_TABLE2,
    PPO_NOTE,
    IcppResult,
    arrival_times,
    run_icpp,
)
from prefect_quantum.simulation.icpp_bound import lp_bound
from prefect_quantum.simulation.icpp_configs import config_table
from prefect_quantum.simulation.icpp_model import IcppJob
from prefect_quantum.simulation.icpp_policy import OPERATING_POINTS, run_ours

ICPP_POLICIES = ("speed", "fidelity", "fair", "ppo", *OPERATING_POINTS)


@dataclass(frozen=True)
class IcppReport:
    """Rows (one per policy) with the LP bound at each makespan, and the bound curve."""

    rows: list[dict[str, object]]
    results: list[IcppResult]
    bound_curve: list[tuple[float, float]]


def icpp_report(jobs: Sequence[IcppJob], policies: Sequence[str] = ICPP_POLICIES,
                curve: Sequence[float] = ()) -> IcppReport:
    """Run the named policies (PPO quoted), and the LP bound at each makespan."""
    table = config_table(jobs)
    arrivals = arrival_times(jobs)
    rows: list[dict[str, object]] = []
    results: list[IcppResult] = []
    for name in policies:
        if name == "ppo":
            time_s, mean, sd, comm = PAPER_TABLE2["ppo"]
            rows.append({"policy": "ppo", "makespan_s": time_s, "fidelity_mean": mean,
                         "fidelity_sd": sd, "comm_s": comm, "source": PPO_NOTE})
            continue
        result = (run_ours(jobs, name, table) if name in OPERATING_POINTS
                  else run_icpp(jobs, name))
        results.append(result)
        bound = lp_bound(jobs, result.makespan_s, table=table, arrivals=arrivals)
        row: dict[str, object] = {**result.row(), "source": "simulated"}
        if bound.fidelity_mean is not None:
            row["lp_bound_fidelity"] = bound.fidelity_mean
            row["fraction_of_bound"] = result.fidelity_mean / bound.fidelity_mean
        if name in PAPER_TABLE2:
            row["paper_makespan_s"], row["paper_fidelity_mean"] = PAPER_TABLE2[name][:2]
        rows.append(row)
    curve_points = []
    for makespan in curve:
        value = lp_bound(jobs, makespan, table=table, arrivals=arrivals).fidelity_mean
        if value is not None:
            curve_points.append((makespan, value))
    return IcppReport(rows, results, curve_points)


def icpp_markdown(report: IcppReport) -> str:
    """The ICPP table in markdown."""
    lines = ["| policy | makespan (s) | fidelity mean +- sd | comm (s) | LP bound at makespan "
             "| of bound | source |", "|---|---|---|---|---|---|---|"]
    for r in report.rows:
        bound = r.get("lp_bound_fidelity")
        share = r.get("fraction_of_bound")
        lines.append(
            f"| {r['policy']!s} | {r['makespan_s']:,.2f} | {r['fidelity_mean']:.5f} +- "
            f"{r['fidelity_sd']:.5f} | {r['comm_s']:,.2f} | "
            f"{'' if bound is None else f'{bound:.5f}'} | "
            f"{'' if share is None else f'{share:.1%}'} | {r['source']!s} |")
    return "\n".join(lines)


def bench_markdown(bench: BenchRun) -> str:
    """The policy benchmark's summary table and acceptance checks in markdown."""
    summary = summarize(bench.runs)
    columns = ["scenario", "policy", "value_per_h", "throughput_per_h", "wait_mean_s",
               "wait_p95_s", "wait_mean_noncompliance_s", "sla_violation_rate",
               "preemptions", "jain", "jain_runs", "jain_windows", "compliance_violations",
               "mean_fidelity",
               "utilization", "cost_per_shot", "wait_p95_s_tail"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in summary.select(columns).iter_rows():
        cells = [f"{v:,.3f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    seeds = int(summary["seeds"].max() or 0)  # type: ignore[arg-type]
    lines += ["", f"Means over {seeds} seeds; `wait_p95_s_tail` is the P95 over seeds of "
              "each run's P95 wait.", "",
              "| scenario | policy | criterion | measured | target | met |",
              "|---|---|---|---|---|---|"]
    for c in acceptance(summary):
        lines.append(f"| {c['scenario']} | {c['policy']} | {c['criterion']} | {c['value']:.3f} | "
                     f"{c['target']} | {'yes' if c['met'] else 'no'} |")
    return "\n".join(lines)


def write_report(out_dir: Path, icpp: IcppReport | None, bench: BenchRun | None) -> Path:
    """Write report.md and the PNG plots into `out_dir`; returns the report's path."""
    from prefect_quantum.simulation import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    parts = ["# prefect-quantum benchmarks", ""]
    if icpp is not None:
        quoted = [(str(r["policy"]), float(r["makespan_s"]), float(r["fidelity_mean"]))  # type: ignore[arg-type]
                  for r in icpp.rows if r["source"] != "simulated"]
        plots.plot_front(icpp.results, icpp.bound_curve, quoted, out_dir / "icpp_front.png")
        parts += ["## ICPP 2025 scenario", "", icpp_markdown(icpp), "",
                  "![fidelity vs makespan](icpp_front.png)", ""]
    if bench is not None:
        parts += ["## Policy benchmark", "", bench_markdown(bench), ""]
        for sc in sorted({s for s, _ in bench.samples}):
            plots.plot_waits(bench, sc, out_dir / f"waits_{sc}.png")
            plots.plot_fairness(bench, sc, out_dir / f"fairness_{sc}.png")
            parts += [f"![waits {sc}](waits_{sc}.png)", f"![fairness {sc}](fairness_{sc}.png)",
                      ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(parts))
    bench_runs = bench.runs if bench is not None else pl.DataFrame()
    if bench is not None:
        bench_runs.write_csv(out_dir / "policy_runs.csv")
    return path
