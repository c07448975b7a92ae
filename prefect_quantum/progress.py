"""Shot progress of running jobs, for listeners in the same process (the CLI's bar).

Prefect shows progress in the UI through a progress artifact; a terminal in the same
process has no way to read it without polling the API, so execution also tells the
listeners registered here. Hand-written because neither Prefect nor Aer offer an
in-process progress callback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

ProgressListener = Callable[[str, int, int], None]
"""Called with (job id, shots done, shots total) after every chunk."""

_listeners: list[ProgressListener] = []
_lock = threading.Lock()


@contextmanager
def listening(listener: ProgressListener) -> Iterator[None]:
    """Register ``listener`` for the duration of the block."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


def report(job_id: str, done: int, total: int) -> None:
    """Tell every listener how far a job is."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(job_id, done, total)
