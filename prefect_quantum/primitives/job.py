"""The job a primitive's ``run()`` returns: a future on the primitive's own worker thread."""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from typing import Generic, TypeVar

from qiskit.primitives.base.base_primitive_job import BasePrimitiveJob
from qiskit.providers import JobStatus
from qiskit.providers.jobstatus import JOB_FINAL_STATES

ResultT = TypeVar("ResultT")


class QuantumJob(BasePrimitiveJob[ResultT, JobStatus], Generic[ResultT]):
    """A submitted run: ``result()`` waits for it, ``status()``/``done()`` do not.

    Runs of one primitive execute one after another in submission order (they are the
    iterations of one scheduler session), while the caller's thread stays free.
    """

    def __init__(self, future: Future[ResultT]) -> None:
        super().__init__(str(uuid.uuid4()))
        self._future = future

    def result(self) -> ResultT:
        """The run's result; re-raises its exception."""
        return self._future.result()

    def status(self) -> JobStatus:
        """QUEUED, RUNNING, DONE, ERROR or CANCELLED."""
        future = self._future
        if future.cancelled():
            return JobStatus.CANCELLED
        if future.done():
            return JobStatus.ERROR if future.exception() is not None else JobStatus.DONE
        return JobStatus.RUNNING if future.running() else JobStatus.QUEUED

    def done(self) -> bool:
        """Whether the run finished successfully."""
        return self.status() == JobStatus.DONE

    def running(self) -> bool:
        """Whether the run is executing now."""
        return self.status() == JobStatus.RUNNING

    def cancelled(self) -> bool:
        """Whether the run was cancelled before it started."""
        return self.status() == JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        """Whether the run is DONE, CANCELLED or ERROR."""
        return self.status() in JOB_FINAL_STATES

    def cancel(self) -> bool:
        """Cancel the run if it has not started; True when that worked."""
        return self._future.cancel()
