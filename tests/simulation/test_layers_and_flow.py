"""Layer rule of simulation/ and the weekly policy-benchmark flow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CHECK = (
    "import prefect_quantum.simulation.bench, prefect_quantum.simulation.report, "
    "prefect_quantum.simulation.icpp_policy, prefect_quantum.cli_bench, sys; "
    "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
    "('prefect', 'qiskit', 'matplotlib', 'scipy')); "
    "assert not bad, bad"
)


def test_simulation_imports_neither_prefect_nor_qiskit() -> None:
    """matplotlib (plots) and scipy (the LP) load only when used."""
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.usefixtures("prefect_api")
def test_policy_benchmark_flow_publishes_report(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from flows.policy_benchmark import policy_benchmark

    result = policy_benchmark(seeds=1, scenarios=["calm"], output_dir=str(tmp_path))
    assert Path(result["report"]).exists()
    assert (tmp_path / "fairness_calm.png").exists()
    assert {row["policy"] for row in result["summary"]} >= {"production", "oracle"}
