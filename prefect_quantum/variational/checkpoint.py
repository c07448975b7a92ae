"""The optimizer state on disk: every evaluation so far, written atomically as JSON.

Resuming replays the recorded evaluations into a fresh optimizer (COBYLA and SPSA are
deterministic given the values they see), so a resumed loop continues exactly where the
crashed or stopped one was, without re-running any circuit.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect_quantum.errors import InvalidInputError

VERSION = 1


@dataclass
class LoopState:
    """What a loop needs to resume: its identity, the evaluations and the table rows."""

    fingerprint: str
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    """Per iteration: ``points`` (parameter sets), ``energies``, ``stderrs``."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    run_count: int | None = None
    """The estimator's run counter after the last iteration (keeps seeds in step)."""

    def to_json(self) -> str:
        """The JSON document."""
        return json.dumps({"version": VERSION, "fingerprint": self.fingerprint,
                           "evaluations": self.evaluations, "rows": self.rows,
                           "run_count": self.run_count})


def save_state(path: Path, state: LoopState) -> None:
    """Write ``state`` to ``path`` atomically (a crash leaves the previous version)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)


def load_state(path: Path, fingerprint: str) -> LoopState | None:
    """The state saved at ``path``, None when there is none; refuses another loop's state."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        state = LoopState(str(doc["fingerprint"]), list(doc["evaluations"]), list(doc["rows"]),
                          doc.get("run_count"))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(
            "checkpoint_path", f"{path} is not a loop checkpoint: {exc}"
        ) from exc
    if state.fingerprint != fingerprint:
        raise InvalidInputError(
            "checkpoint_path",
            f"{path} belongs to another loop (problem, optimizer, start point or seed differ)",
        )
    return state
