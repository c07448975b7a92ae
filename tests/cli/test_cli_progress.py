"""The CLI's progress bar, as a person sees it: `prefect-quantum run` in a terminal."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path


def _run_in_terminal(args: list[str], env: dict[str, str], timeout_s: float) -> str:
    """Run `args` with stdout and stderr on a pseudo-terminal; everything it wrote."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower,
                            env=env, close_fds=True)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    os.close(leader)
    assert proc.returncode == 0, b"".join(chunks)[-3000:]
    return b"".join(chunks).decode(errors="replace")


def test_run_in_a_terminal_draws_a_shot_progress_bar_up_to_the_total(tmp_path: Path) -> None:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path), "COLUMNS": "120", "TERM": "xterm",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("CI", None)  # rich draws no live bar for CI=true terminals
    screen = _run_in_terminal(
        [sys.executable, "-c", "from prefect_quantum.cli import main; main()",
         "run", "ghz:3", "--shots", "20000", "--device", "ibm_fez"], env, timeout_s=240,
    )
    frames = [int(m) for m in re.findall(r"shots\S*\s.*?(\d+)/20000", screen)]
    assert frames, screen[-2000:]
    assert max(frames) == 20000  # the bar reached the total ...
    assert "hybrid job" in screen and "ibm_fez" in screen  # ... and the table followed
