"""Tidy results: one row per circuit and one per device run, as polars frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

ROW_SCHEMA: dict[str, Any] = {
    "circuit": pl.String,
    "device": pl.String,
    "backend_kind": pl.String,
    "shots": pl.Int64,
    "calibration_snapshot": pl.String,
    "raw_value": pl.Float64,
    "mitigated_value": pl.Float64,
    "stderr": pl.Float64,
    "mitigation": pl.String,
    "estimated_fidelity": pl.Float64,
    "job_id": pl.String,
    "observable": pl.String,
    "transpile_seed": pl.Int64,
    "fallback_reason": pl.String,
}
"""The columns of a circuit row; the first eleven are the CLI's ``--json`` keys."""


@dataclass(frozen=True)
class JobResult:
    """What ``hybrid_job`` returns: circuit rows and device-run rows."""

    job_id: str
    rows: pl.DataFrame
    device_runs: pl.DataFrame

    def to_dicts(self) -> list[dict[str, Any]]:
        """The circuit rows as plain dicts (the CLI's JSON)."""
        return self.rows.to_dicts()

    def values(self) -> list[float]:
        """The mitigated value of each circuit, in request order."""
        return self.rows["mitigated_value"].to_list()

    def markdown(self) -> str:
        """A markdown report: the circuit table and the device runs."""
        lines = [f"# Hybrid job `{self.job_id}`", "", _markdown_table(self.rows.select(
            "circuit", "device", "backend_kind", "shots", "raw_value", "mitigated_value",
            "stderr", "mitigation", "estimated_fidelity",
        )), "", "## Device runs", "", _markdown_table(self.device_runs)]
        return "\n".join(lines)


def circuit_rows(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Circuit rows as a frame with the fixed schema."""
    return pl.DataFrame(list(rows), schema=ROW_SCHEMA, orient="row")


def device_run_rows(runs: Sequence[object]) -> pl.DataFrame:
    """Device-run records (dataclasses) as a frame."""
    records = []
    for run in runs:
        record = asdict(run)  # type: ignore[call-overload]
        record.pop("extra", None)
        records.append(record)
    return pl.DataFrame(records)


def _markdown_table(frame: pl.DataFrame) -> str:
    with pl.Config(
        tbl_formatting="MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_rows=-1,
        tbl_cols=-1,
        fmt_str_lengths=80,
        float_precision=4,
    ):
        return str(frame)
