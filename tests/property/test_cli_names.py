"""Block names on the command line: malformed ones exit 2 naming the option before any
Prefect API call or flow run."""

from __future__ import annotations

import pytest
from strategies import INJECTIONS
from typer.testing import CliRunner

from prefect_quantum.cli import app

BAD_BLOCK_NAMES = [n for n in INJECTIONS if n] + ["Default", "my block", "a_b", "x" * 256]


@pytest.mark.parametrize("name", BAD_BLOCK_NAMES[:12])
@pytest.mark.parametrize("command", ["queue", "usage"])
def test_store_commands_refuse_malformed_block_names(command: str, name: str) -> None:
    result = CliRunner().invoke(app, [command, "--block", name, "--json"])
    assert result.exit_code == 2, result.output
    assert "block" in result.output


@pytest.mark.parametrize("name", ["'; DROP TABLE requests;--", "Default", "../../etc/passwd"])
def test_run_refuses_a_malformed_scheduler_name_before_the_flow(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prefect_quantum.flows as flows_module

    def no_flow(*args: object, **kwargs: object) -> None:
        raise AssertionError("the flow ran")

    monkeypatch.setattr(flows_module, "hybrid_job", no_flow)
    result = CliRunner().invoke(app, ["run", "ghz:2", "--shots", "10", "--scheduler", name])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "scheduler" in result.output
