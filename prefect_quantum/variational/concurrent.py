"""Several loops at once in one process, one thread each.

A loop waiting for a queued device sleeps in the scheduler's poll (the GIL is free), and
Aer releases the GIL while it simulates, so the other loops keep running; each loop's
estimator holds its own scheduler session, charged to its own tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def run_concurrently(loops: Sequence[Callable[[], T]], max_workers: int | None = None) -> list[T]:
    """Run each zero-argument ``loop`` in its own thread; results in input order.

    The first exception is re-raised after every loop has finished.
    """
    with ThreadPoolExecutor(max_workers=max_workers or max(len(loops), 1),
                            thread_name_prefix="variational-loop") as pool:
        futures = [pool.submit(loop) for loop in loops]
        return [f.result() for f in futures]
