"""The convergence plot (PNG) and the Prefect artifacts of a loop."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import polars as pl


def convergence_png(rows: pl.DataFrame, *, exact: float | None = None, title: str = "") -> bytes:
    """Energy per iteration with its error bars, the best so far, pauses and the exact value."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.6), dpi=80)
    ax = fig.add_subplot()
    it = rows["iteration"].to_numpy()
    ax.errorbar(it, rows["energy"].to_numpy(), yerr=rows["stderr"].to_numpy(), fmt=".",
                ms=3, lw=0.6, label="energy")
    ax.plot(it, rows["best_energy"].to_numpy(), "-", lw=1.2, label="best so far")
    if exact is not None:
        ax.axhline(exact, color="k", ls="--", lw=0.8, label=f"exact {exact:.5f}")
    for paused in rows.filter(pl.col("paused"))["iteration"].to_list():
        ax.axvline(paused, color="tab:red", alpha=0.4, lw=0.8)
    ax.set_xlabel("iteration")
    ax.set_ylabel("energy")
    ax.set_title(title or "convergence")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def save_png(png: bytes, path: str | Path) -> Path:
    """Write the plot to ``path`` (directories created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(png)
    return target


def in_prefect_run() -> bool:
    """Whether a Prefect flow or task run is active (artifacts need one)."""
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def publish(rows: pl.DataFrame, png: bytes, *, key: str, summary: str) -> None:
    """Table, plot (a data-URL image) and summary artifacts; nothing outside a Prefect run."""
    if not in_prefect_run():
        return
    from prefect.artifacts import (
        create_image_artifact,
        create_markdown_artifact,
        create_table_artifact,
    )

    table = rows.with_columns(pl.col("params").list.eval(pl.element().round(6)))
    create_table_artifact(
        [{k: (str(v) if isinstance(v, list) else v) for k, v in r.items()}
         for r in table.to_dicts()],
        key=f"{key}-iterations", description="One row per optimizer iteration.",
    )
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    create_image_artifact(url, key=f"{key}-convergence", description="Convergence plot.")
    create_markdown_artifact(summary, key=f"{key}-summary", description="Loop summary.")
