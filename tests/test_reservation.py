from __future__ import annotations

import threading
import time

import pytest

from prefect_quantum.errors import NoEligibleDeviceError
from prefect_quantum.reservation import LocalReserver, ReservationRequest


def _request(job: str, candidates: tuple[str, ...], max_wait: float = 5.0, fallback="noisy"):  # type: ignore[no-untyped-def]
    return ReservationRequest(job, "t", "normal", candidates, max_wait, fallback, "dev-a")


def test_one_job_per_device_and_release_frees_it() -> None:
    reserver = LocalReserver()
    first = reserver.reserve(_request("j1", ("dev-a", "dev-b")))
    second = reserver.reserve(_request("j2", ("dev-a", "dev-b")))
    assert (first.device, second.device) == ("dev-a", "dev-b")
    reserver.release(first, qpu_seconds=1.5)
    third = reserver.reserve(_request("j3", ("dev-a",)))
    assert third.device == "dev-a" and third.backend_kind == "qpu"
    assert reserver.usage_s["j1"] == 1.5


def test_waiting_job_gets_the_device_when_released() -> None:
    reserver = LocalReserver()
    held = reserver.reserve(_request("j1", ("dev-a",)))
    timer = threading.Timer(0.2, reserver.release, args=(held,), kwargs={"qpu_seconds": 0.0})
    timer.start()
    started = time.monotonic()
    lease = reserver.reserve(_request("j2", ("dev-a",)))
    assert lease.device == "dev-a" and lease.backend_kind == "qpu"
    assert time.monotonic() - started >= 0.15


def test_falls_back_after_max_wait_and_says_why() -> None:
    reserver = LocalReserver()
    reserver.reserve(_request("j1", ("dev-a",)))
    lease = reserver.reserve(_request("j2", ("dev-a",), max_wait=0.05))
    assert lease.backend_kind == "simulator-fallback"
    assert "max_wait_s" in (lease.fallback_reason or "")


def test_no_candidates_falls_back_or_fails_when_fallback_is_none() -> None:
    reserver = LocalReserver()
    lease = reserver.reserve(_request("j1", ()))
    assert lease.backend_kind == "simulator-fallback"
    with pytest.raises(NoEligibleDeviceError):
        reserver.reserve(_request("j2", (), fallback="none"))
