from __future__ import annotations

import math

import pytest

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.job import JobRequest


def test_build_resolves_circuits_and_assigns_a_job_id() -> None:
    request = JobRequest.build(["ghz:3", "bell"], 100, mitigation="zne+rem")
    assert [c.name for c in request.circuits] == ["ghz:3", "bell"]
    assert len(request.job_id) == 32
    assert JobRequest.build("ghz:3", options={"job_id": "run-7"}).job_id == "run-7"


def test_one_observable_applies_to_every_circuit() -> None:
    request = JobRequest.build(["ghz:2", "bell"], observables="ZZ")
    assert request.observables == ["ZZ", "ZZ"]


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"shots": 0}, "shots"),
        ({"shots": -5}, "shots"),
        ({"shots": 10**12}, "shots"),
        ({"mitigation": "magic"}, "mitigation"),
        ({"tenant": ""}, "tenant"),
        ({"tenant": "x; DROP TABLE jobs"}, "tenant"),
        ({"tenant": "é" * 3}, "tenant"),
        ({"priority": "asap"}, "priority"),
        ({"observables": ["ZZ", "ZZ"]}, "observables"),
        ({"options": {"seed": -1}}, "options.seed"),
        ({"options": {"max_wait_s": math.nan}}, "options.max_wait_s"),
        ({"options": {"chunk_shots": 0}}, "options.chunk_shots"),
        ({"options": {"zne": {"factory": "cubic"}}}, "options.zne.factory"),
        ({"options": {"unknown": 1}}, "options.unknown"),
        ({"options": {"job_id": "../../etc"}}, "options.job_id"),
    ],
)
def test_bad_requests_name_the_field(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInputError) as info:
        JobRequest.build(["ghz:3"], **kwargs)
    assert info.value.field == field


def test_empty_circuit_list_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="circuits"):
        JobRequest.build([])
