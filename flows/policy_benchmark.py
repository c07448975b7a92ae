"""Scheduled weekly: the policy benchmark (production's `decide` against the baselines, on
the calm and degraded scenarios), published as Prefect table and markdown artifacts."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from prefect_quantum.simulation.bench import acceptance, run_bench, summarize
from prefect_quantum.simulation.report import write_report
from prefect_quantum.simulation.trace import load_trace


@task
def run_policy_benchmark(seeds: int, scenarios: list[str], trace_csv: str | None,
                         output_dir: str) -> dict[str, Any]:
    """Simulate every policy; write report.md and the PNG plots into `output_dir`."""
    trace = load_trace(trace_csv) if trace_csv else None
    bench = run_bench(scenarios, seeds, trace)
    summary = summarize(bench.runs)
    report = write_report(Path(output_dir), None, bench)
    return {"summary": summary.to_dicts(), "acceptance": acceptance(summary),
            "report": str(report)}


@flow(name="policy-benchmark")
def policy_benchmark(
    seeds: int = 20,
    scenarios: list[str] | None = None,
    trace_csv: str | None = None,
    output_dir: str | None = None,
) -> dict[str, Any]:
    """Run the policy benchmark and publish it.

    Args:
        seeds: Seeds per scenario (each draws a trace and a hardware history).
        scenarios: Scenario names; both "calm" and "degraded" when empty.
        trace_csv: A trace CSV to replay instead of generated traces.
        output_dir: Where the report and plots are written; a temporary directory when
            empty. The markdown artifact links the plots by their saved paths.
    """
    out = Path(output_dir or tempfile.mkdtemp(prefix="policy-benchmark-"))
    result = run_policy_benchmark(seeds, scenarios or ["calm", "degraded"], trace_csv,
                                  str(out))
    create_table_artifact(result["summary"], key="policy-benchmark",
                          description="Policy benchmark: means over seeds per scenario.")
    create_table_artifact(result["acceptance"], key="policy-benchmark-acceptance",
                          description="Issue #4's criteria, measured.")
    markdown = Path(result["report"]).read_text()
    for png in sorted(out.glob("*.png")):
        markdown = markdown.replace(f"]({png.name})", f"]({png.resolve()})")
    create_markdown_artifact(markdown, key="policy-benchmark-report",
                             description="Policy benchmark report with plots.")
    return result


if __name__ == "__main__":
    policy_benchmark()
