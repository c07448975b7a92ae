"""`prefect-quantum bench`: JSON shape and exit code 2 naming the bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from prefect_quantum.cli_bench import bench_app

app = typer.Typer()
app.add_typer(bench_app, name="bench")
runner = CliRunner()


def test_icpp_one_mode_json() -> None:
    result = runner.invoke(app, ["bench", "icpp2025", "--policy", "speed", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows[0]["policy"] == "speed"
    assert {"makespan_s", "fidelity_mean", "fidelity_sd", "comm_s"} <= set(rows[0])
    assert rows[0]["makespan_s"] == pytest.approx(108_775.38, abs=0.01)


def test_icpp_ppo_is_quoted_not_simulated() -> None:
    rows = json.loads(runner.invoke(app, ["bench", "icpp2025", "--policy", "ppo",
                                          "--json"]).stdout)
    assert rows[0]["makespan_s"] == 106_206.21 and "quoted" in rows[0]["source"]


def test_icpp_domination_from_the_cli() -> None:
    rows = json.loads(runner.invoke(app, ["bench", "icpp2025", "--policy", "ours",
                                          "--json"]).stdout)
    ours = rows[0]
    assert ours["makespan_s"] < 106_206.21 and ours["fidelity_mean"] > 0.65332
    assert ours["comm_s"] < 5_707.78 and ours["fidelity_mean"] >= 0.673


def test_policies_json_and_report(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "policies", "--scenario", "calm", "--seeds", "1",
                                 "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["policy"] for r in rows} >= {"production", "fifo", "oracle"}
    assert {"value_per_h", "wait_p95_s", "jain", "compliance_violations"} <= set(rows[0])
    assert (tmp_path / "report.md").exists() and (tmp_path / "waits_calm.png").exists()


@pytest.mark.parametrize(("args", "named"), [
    (["policies", "--seeds", "0"], "seeds"),
    (["policies", "--scenario", "stormy"], "scenario"),
    (["policies", "--trace", "/no/such.csv"], "trace"),
    (["icpp2025", "--policy", "nope"], "policy"),
    (["icpp2025", "--jobs", "/no/such.csv"], "jobs"),
])
def test_bad_input_exits_2_naming_it(args: list[str], named: str) -> None:
    result = runner.invoke(app, ["bench", *args])
    assert result.exit_code == 2
    assert named in result.output
