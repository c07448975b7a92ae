"""hybrid_job as a tenant: the QuantumScheduler block's credentials decide what a flow may
submit and read ([T2], [T3]); a cancelled job fails for good and resumes from its
checkpoint when run again ([T5], [T6])."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from prefect_quantum import hybrid_job
from prefect_quantum.blocks import QuantumFleet, QuantumScheduler, QuantumTenantCredentials
from prefect_quantum.errors import AccessDeniedError, AuthenticationError, JobCancelledError
from prefect_quantum.store import tenants
from prefect_quantum.store.tenants import OPEN, Credentials, add_tenant, connect

pytestmark = pytest.mark.usefixtures("prefect_api")
OPS_SECRET = "ops-secret-0123456789abcdef"



@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{os.path.join(tmp_path, 'sched.db')}"
    value: str = request.getfixturevalue("pg_schema_url")
    return value


def _scheduler(url: str, tenant: str | None, secret: str | None,
               time_scale: float = 0.0) -> QuantumScheduler:
    credentials = None if tenant is None else QuantumTenantCredentials(
        tenant=tenant, secret=SecretStr(secret or ""))
    return QuantumScheduler(
        store_url=SecretStr(url),
        fleet_config=QuantumFleet(devices=["ibm_brussels"], time_scale=time_scale),
        credentials=credentials,
    )


@pytest.fixture
def chem_secret(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store with operator ``ops`` and tenant ``chem``; chem's secret."""
    monkeypatch.setattr(tenants, "SCRYPT_N", 2**10)
    store = _scheduler(url, None, None).store
    add_tenant(store, "ops", by=OPEN, role="operator", secret=OPS_SECRET)
    ops = connect(store, Credentials("ops", OPS_SECRET)).principal
    return add_tenant(store, "chem", by=ops)


def test_T3_a_flow_runs_as_its_tenant_and_is_refused_as_another(
    url: str, chem_secret: str,
) -> None:
    scheduler = _scheduler(url, "chem", chem_secret)
    result = hybrid_job(["ghz:3"], shots=500, tenant="chem", scheduler=scheduler)
    assert result.to_dicts()[0]["backend_kind"] == "qpu"
    assert [r["job_id"] for r in scheduler.tenant_view.queue(include_finished=True)] == [
        result.job_id]
    with pytest.raises(AccessDeniedError, match="'chem' may not submit jobs as tenant 'ml'"):
        hybrid_job(["ghz:3"], shots=500, tenant="ml", scheduler=scheduler)
    assert len(scheduler.store.queue(include_finished=True)) == 1  # nothing enqueued


@pytest.mark.parametrize("secret", [None, "wrong-secret-0123456789"])
def test_T2_missing_or_wrong_credentials_fail_the_flow(
    url: str, chem_secret: str, secret: str | None,
) -> None:
    scheduler = _scheduler(url, None if secret is None else "chem", secret)
    with pytest.raises(AuthenticationError):
        hybrid_job(["ghz:3"], shots=500, tenant="chem", scheduler=scheduler)
    assert scheduler.store.queue(include_finished=True) == []


def test_T5_T6_cancelled_flow_fails_for_good_then_resumes_from_its_checkpoint(
    url: str, chem_secret: str,
) -> None:
    scheduler = _scheduler(url, "chem", chem_secret, time_scale=3.0)
    options = {"chunk_shots": 250, "job_id": "chem-long"}
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            hybrid_job(["ghz:3"], shots=4000, tenant="chem", scheduler=scheduler,
                       options=options)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    view = scheduler.tenant_view
    deadline = time.time() + 60
    while time.time() < deadline and not any(r["state"] == "running" for r in view.queue()):
        time.sleep(0.05)
    assert view.cancel("chem-long").preempt_requested
    thread.join(120)
    assert isinstance(outcome.get("error"), JobCancelledError)
    cancelled = view.poll("chem-long")
    assert cancelled.state == "cancelled" and 0 < cancelled.shots_done < 4000
    assert view.resume("chem-long").state in ("waiting", "running")
    result = hybrid_job(["ghz:3"], shots=4000, tenant="chem",
                        scheduler=_scheduler(url, "chem", chem_secret), options=options)
    assert result.to_dicts()[0]["shots"] == 4000
    kinds = [r["kind"] for r in view.audit("chem-long")]
    assert kinds.index("cancel_requested") < kinds.index("cancelled") < kinds.index(
        "requeued") < kinds.index("completed")
