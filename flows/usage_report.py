"""Scheduled daily: per-tenant usage, fair-share standing, preemptions and fallbacks."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from prefect_quantum.blocks import QuantumScheduler
from prefect_quantum.operations import usage_report as build_report


def plot_shares(rows: list[dict[str, Any]], path: Path) -> Path:
    """A bar chart of each tenant's share of recent QPU time against its target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tenants = [r["tenant"] for r in rows]
    used = [r["usage_fraction"] or 0.0 for r in rows]
    target = [r["target_fraction"] or 0.0 for r in rows]
    fig, ax = plt.subplots(figsize=(max(4, len(rows)), 3))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], used, width=0.4, label="decayed usage")
    ax.bar([x + 0.2 for x in xs], target, width=0.4, label="target share")
    ax.set_xticks(list(xs), tenants, rotation=30, ha="right")
    ax.set_ylabel("fraction of QPU time")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@flow(name="usage-report")
def usage_report(
    scheduler_block: str = "default",
    output_dir: str | None = None,
    scheduler: QuantumScheduler | None = None,
) -> dict[str, Any]:
    """Publish per-tenant usage as table and markdown artifacts, with a plot.

    Args:
        scheduler_block: Name of the saved QuantumScheduler block to report on.
        output_dir: Where the plot is written; a temporary directory when empty.
        scheduler: A scheduler object to use instead of loading the block.
    """
    scheduler = scheduler or QuantumScheduler.load(scheduler_block)
    report = build_report(scheduler)
    rows = report["tenants"]
    create_table_artifact(rows, key="usage-report", description="QPU usage per tenant.")
    out = Path(output_dir or tempfile.mkdtemp(prefix="usage-report-"))
    out.mkdir(parents=True, exist_ok=True)
    plot = plot_shares(rows, out / "usage.png") if rows else None
    table = pl.DataFrame(rows) if rows else pl.DataFrame()
    with pl.Config(tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True,
                   tbl_hide_dataframe_shape=True, float_precision=3):
        markdown = "\n".join([
            "# QPU usage report", "",
            f"Audit log: {report['audit_records']} records, "
            f"{'intact' if report['audit_intact'] else 'ALTERED'}.", "",
            str(table) if rows else "No usage yet.", "",
            f"Plot: `{plot}`" if plot else "",
        ])
    create_markdown_artifact(markdown, key="usage-report-md", description="Usage report.")
    return {**report, "plot": str(plot) if plot else None}
