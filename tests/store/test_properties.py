"""Random interleavings of store operations keep the store's invariants (SQLite, fake
clock): one lease per device and per job ([A3], [S3]), a lease exactly for each running
job, usage settled once per lease ([F1]), original ages and checkpointed shots kept
([L3]), and an intact audit chain whose replay shows no double grant."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from store_helpers import FakeClock, qpu
from store_workload import replay_leases

from prefect_quantum.errors import LeaseLostError
from prefect_quantum.scheduling import PolicyConfig, Request
from prefect_quantum.store import SchedulerStore

JOBS = [f"j{i}" for i in range(8)]
DEVICES = ["qa", "qb", "qc"]


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp()
        self.clock = FakeClock()
        self.store = SchedulerStore(
            f"sqlite:///{self.directory}/s.db",
            PolicyConfig(min_run_s=0.0, preemption_grace_s=0.0, max_preemptions_per_job=2),
            lease_ttl_s=30.0, clock=self.clock, pass_interval_s=10.0,
        )
        self.store.register_devices([qpu(d, qubits=4 + 2 * i) for i, d in enumerate(DEVICES)])
        self.submitted: dict[str, float] = {}  # job -> submitted_at
        self.checkpointed: dict[str, int] = {}
        self.old_leases: list[tuple[str, str]] = []

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @rule(job=st.sampled_from(JOBS), tenant=st.integers(0, 2), cls=st.integers(0, 3),
          qubits=st.sampled_from([2, 6, 9]), max_wait=st.sampled_from([float("inf"), 50.0]))
    def submit(self, job: str, tenant: int, cls: int, qubits: int, max_wait: float) -> None:
        status = self.store.submit(Request(job, f"t{tenant}", cls, 0.0, 10.0, qubits,
                                           max_wait_s=max_wait, shots_total=200))
        self.submitted.setdefault(job, self.clock.now)
        assert status.job_id == job

    @rule(seconds=st.sampled_from([0.5, 5.0, 20.0, 45.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: bool(self.submitted))
    @rule(data=st.data())
    def work_one_chunk(self, data: Any) -> None:
        job = data.draw(st.sampled_from(sorted(self.submitted)))
        status = self.store.poll(job)
        if status.lease_id is None:
            return
        done = min(200, status.shots_done + 50)
        try:
            self.store.save_checkpoint(job, status.lease_id, {"shots_done": done})
            self.checkpointed[job] = done
            self.old_leases.append((job, status.lease_id))
            if done == 200:
                self.store.release(job, status.lease_id, qpu_seconds=1.0,
                                   outcome="completed", shots_done=done)
                return
            beat = self.store.heartbeat(job, status.lease_id, shots_done=done, work_done_s=1.0)
            if beat.preempt_requested:
                self.store.release(job, status.lease_id, qpu_seconds=1.0,
                                   outcome="preempted", shots_done=done)
        except LeaseLostError:
            pass

    @precondition(lambda self: bool(self.old_leases))
    @rule(data=st.data(), outcome=st.sampled_from(["completed", "failed"]))
    def stale_release(self, data: Any, outcome: str) -> None:
        job, lease_id = data.draw(st.sampled_from(self.old_leases))
        status = self.store.poll(job)
        with contextlib.suppress(LeaseLostError):  # expired; otherwise a no-op or a finish
            self.store.release(job, lease_id, qpu_seconds=1.0, outcome=outcome,  # type: ignore[arg-type]
                               shots_done=status.shots_done)

    @rule()
    def run_pass(self) -> None:
        self.store.run_pass()

    @rule(device=st.sampled_from(DEVICES), online=st.booleans())
    def set_online(self, device: str, online: bool) -> None:
        self.store.set_device_online(device, online)

    @invariant()
    def consistent(self) -> None:
        leases = self.store.leases()
        assert len({lease["device"] for lease in leases}) == len(leases)
        assert len({lease["job_id"] for lease in leases}) == len(leases)
        jobs = {q["job_id"]: q for q in self.store.queue(include_finished=True)}
        running = {job for job, q in jobs.items() if q["state"] == "running"}
        assert running == {lease["job_id"] for lease in leases}
        for job, submitted_at in self.submitted.items():
            assert jobs[job]["submitted_at"] == submitted_at  # original age [L3]
            if jobs[job]["state"] != "completed":
                assert jobs[job]["shots_done"] == self.checkpointed.get(job, 0)
        records = self.store.audit()
        replay_leases(records)
        assert self.store.verify_audit() is None
        ledger = self.store.ledger()
        assert len({r["lease_id"] for r in ledger}) == len(ledger)
        ended = [r for r in records if r["kind"] in ("released", "expired")]
        assert len(ended) == len(ledger)  # every ended lease settled exactly once [F1]


StoreMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=30,
                                          deadline=None)
test_store_invariants = StoreMachine.TestCase
