"""Every example script runs."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.usefixtures("prefect_api")
def test_quickstart_runs_and_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    printed = capsys.readouterr().out
    for name in ("my-ghz", "ghz:5", "bell.qasm", "mitigated_value"):
        assert name in printed
