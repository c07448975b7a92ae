"""The value types: validation names the field; derived values follow the doc's formulas."""

from __future__ import annotations

import dataclasses
import math

import pytest
from sched_helpers import dev, req

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.scheduling import PolicyConfig, Request, duration_on


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"job_id": ""}, "job_id"),
    ({"priority_class": "high"}, "priority_class"),
    ({"submitted_at": math.nan}, "submitted_at"),
    ({"work_s": -1.0}, "work_s"),
    ({"num_qubits": 0}, "num_qubits"),
    ({"shots_done": 5, "shots_total": 4}, "shots_done"),
    ({"max_wait_s": -1.0}, "max_wait_s"),
])
def test_request_validation_names_the_field(kwargs, field) -> None:
    base = {"job_id": "j", "tenant": "t", "priority_class": 1, "submitted_at": 0.0,
            "work_s": 1.0, "num_qubits": 2}
    base.update(kwargs)
    with pytest.raises(InvalidInputError) as err:
        Request(**base)  # type: ignore[arg-type]
    assert err.value.field == field


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"speed": 0.0}, "speed"), ({"est_fidelity": 0.0}, "est_fidelity")])
def test_device_validation_names_the_field(kwargs, field) -> None:
    with pytest.raises(InvalidInputError) as err:
        dev("q", **kwargs)
    assert err.value.field == field


def test_remaining_work_duration_and_latest_start() -> None:
    r = req("j", at=100.0, work=80.0, shots_total=8, shots_done=2, max_wait_s=50.0,
            deadline=200.0)
    assert r.remaining_work_s == 60.0
    assert r.latest_start == 140.0  # min(100 + 50, 200 - 60)
    cfg = PolicyConfig(reference_clops=1000.0)
    assert duration_on(r.remaining_work_s, dev("q", speed=4000.0), cfg) == 15.0
    # Derived fields follow a replace().
    assert dataclasses.replace(r, submitted_at=0.0).age_key == (0.0, "j")
    assert dataclasses.replace(r, shots_done=6).remaining_work_s == 20.0  # [F3] v_r uses it
