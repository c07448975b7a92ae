"""The scheduling core imports nothing heavier than the standard library."""

from __future__ import annotations

import subprocess
import sys

CHECK = (
    "import prefect_quantum.scheduling, sys; "
    "bad = sorted(m for m in sys.modules if m.startswith(('prefect.', 'qiskit')) "
    "or m in ('prefect', 'qiskit')); "
    "assert not bad, bad"
)


def test_scheduling_imports_neither_prefect_nor_qiskit() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
