"""Bad input is refused with an error naming the field and what was expected, and
nothing is enqueued or written; good input is still accepted (issue #7, item 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import (
    Case,
    circuit_cases,
    circuit_parameter_cases,
    invalid_block_cases,
    invalid_cli_cases,
    invalid_job_cases,
    invalid_names,
    invalid_store_cases,
    qasm_cases,
    refusal_problem,
    refused,
    tenant_cases,
    valid_block_fields,
    valid_cli_args,
    valid_job_kwargs,
    valid_names,
)

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.names import check_tenant, is_name

BAD = settings(
    max_examples=150, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
)
"""Fixed example counts and seeds: the same cases locally and in CI."""


def _assert_refused(case: Case) -> None:
    problem = refused(case)
    assert problem is None, f"{case.kind} {case.field} {case.shown}: {problem}"


# -- job requests, circuits, QASM, parameters, tenants --------------------------------------

@BAD
@given(invalid_job_cases())
def test_invalid_job_requests_name_the_field(case: Case) -> None:
    _assert_refused(case)


@settings(BAD, max_examples=50)
@given(valid_job_kwargs())
def test_valid_job_requests_are_accepted(kwargs: dict[str, Any]) -> None:
    from prefect_quantum.job import JobRequest

    circuits = kwargs.pop("circuits")
    request = JobRequest.build(circuits, **kwargs)
    assert request.job_id and request.tenant == kwargs["tenant"]


@settings(BAD, max_examples=400)
@given(circuit_cases())
def test_invalid_circuits_name_the_field(case: Case) -> None:
    _assert_refused(case)


@settings(BAD, max_examples=400)
@given(qasm_cases())
def test_invalid_qasm_is_refused_before_it_costs(case: Case) -> None:
    _assert_refused(case)


@settings(BAD, max_examples=400)
@given(circuit_parameter_cases())
def test_invalid_circuit_parameters_name_the_field(case: Case) -> None:
    _assert_refused(case)


@BAD
@given(tenant_cases())
def test_invalid_tenants_name_the_field(case: Case) -> None:
    _assert_refused(case)


def _store_accepts_tenant(name: Any) -> bool:
    from prefect_quantum.scheduling import PolicyConfig, Request
    from prefect_quantum.store import SchedulerStore

    store = SchedulerStore("sqlite://", PolicyConfig())
    try:
        store._validate(Request("j", name, 1, 0.0, 1.0, 1), None)
    except InvalidInputError as exc:
        assert exc.field == "tenant"
        return False
    finally:
        store.close()
    return True


def _block_accepts_tenant(name: Any) -> bool:
    from pydantic import ValidationError

    from prefect_quantum.blocks import QuantumScheduler

    try:
        QuantumScheduler(shares={name: 1.0})
    except ValidationError:
        return False
    return True


def _job_accepts_tenant(name: Any) -> bool:
    from prefect_quantum.job import JobRequest

    try:
        JobRequest.build("ghz:2", tenant=name)
    except InvalidInputError as exc:
        assert exc.field == "tenant"
        return False
    return True


@settings(BAD, max_examples=60)
@given(st.one_of(valid_names(), invalid_names().filter(lambda v: isinstance(v, str))))
def test_one_tenant_rule_everywhere(name: str) -> None:
    """Names, job requests, the store and the scheduler block's shares agree."""
    expected = is_name(name)
    assert _job_accepts_tenant(name) is expected
    assert _store_accepts_tenant(name) is expected
    assert _block_accepts_tenant(name) is expected
    if expected:
        assert check_tenant(name) == name


def test_registered_tenants_follow_the_rule() -> None:
    from prefect_quantum.store.tenants import _valid_name

    with pytest.raises(InvalidInputError):
        _valid_name("alice\n")


def test_the_tenant_rule() -> None:
    """1-64 of [A-Za-z0-9._-], starting with a letter or digit; nothing else."""
    for good in ("a", "chem-team", "A.b_c-9", "9" * 64):
        assert is_name(good)
    for bad in ("", ".a", "-a", "_a", "a\n", "a b", "é", "a" * 65, "a/b", "a\x00", None, 5):
        assert not is_name(bad)


# -- the scheduler store: nothing enqueued, nothing audited ----------------------------------

@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from prefect_quantum.scheduling import PolicyConfig
    from prefect_quantum.store import SchedulerStore

    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'bad.db'}"
    with SchedulerStore(url, PolicyConfig()) as store:
        yield store


@settings(BAD, max_examples=150)
@given(invalid_store_cases())
def test_store_refuses_bad_requests_and_writes_nothing(
    empty_store: Any, case: tuple[dict[str, Any], dict[str, Any] | None, str]
) -> None:
    from prefect_quantum.scheduling import Request

    fields, payload, field = case
    error: BaseException | None = None
    try:
        empty_store.submit(Request(**fields), payload)
    except Exception as exc:
        error = exc
    problem = refusal_problem(error, field if field != "shots_done" else "shots_done")
    assert problem is None, f"{field}={fields.get(field, payload)!r}: {problem}"
    assert empty_store.queue(include_finished=True) == []
    assert empty_store.audit() == []


def test_store_accepts_a_valid_request(tmp_path: Path) -> None:
    from prefect_quantum.scheduling import PolicyConfig, Request
    from prefect_quantum.store import SchedulerStore

    with SchedulerStore(f"sqlite:///{tmp_path / 'ok.db'}", PolicyConfig()) as store:
        store.submit(Request("job-1", "chem", 1, 0.0, 1.0, 2, deadline=100.0,
                             compliance_domain="fedramp", allowed_devices=frozenset({"dev"})),
                     {"note": "ok"})
        assert [r["job_id"] for r in store.queue(include_finished=True)] == ["job-1"]
        assert [r["kind"] for r in store.audit()][:1] == ["submitted"]


# -- the command line: exit 2 naming the input, before any flow run or store write -----------

class _Calls:
    flows: list[Any]
    schedulers: list[str]

    def __init__(self) -> None:
        self.flows, self.schedulers = [], []


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, _Calls, Path]]:
    """A CliRunner with the flow and the scheduler stubbed, and the default store under a
    temporary XDG_DATA_HOME, so any write would show up there."""
    from typer.testing import CliRunner

    import prefect_quantum.cli as cli_module
    import prefect_quantum.flows as flows_module

    data = tmp_path_factory.mktemp("xdg")
    calls = _Calls()

    class _Result:
        job_id = "stub"

        def to_dicts(self) -> list[dict[str, Any]]:
            return []

    def hybrid_job(*args: Any, **kwargs: Any) -> _Result:
        calls.flows.append((args, kwargs))
        return _Result()

    def load_scheduler(name: str) -> None:
        calls.schedulers.append(name)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(data))
        mp.setattr(flows_module, "hybrid_job", hybrid_job)
        mp.setattr(cli_module, "_load_scheduler", load_scheduler)
        yield CliRunner(), calls, data


@settings(BAD, max_examples=80)
@given(invalid_cli_cases())
def test_cli_exits_2_naming_the_input_and_runs_nothing(
    cli: tuple[Any, _Calls, Path], case: tuple[list[str], str]
) -> None:
    from prefect_quantum.cli import app

    runner, calls, data = cli
    args, needle = case
    before = (len(calls.flows), len(calls.schedulers))
    result = runner.invoke(app, [*args[:1], "--scheduler", "default", *args[1:]])
    assert result.exit_code == 2, (args, result.output, result.exception)
    assert needle in result.output, (args, result.output)
    assert (len(calls.flows), len(calls.schedulers)) == before
    assert not any(data.rglob("*.db"))


@settings(BAD, max_examples=25)
@given(valid_cli_args())
def test_cli_accepts_valid_input(cli: tuple[Any, _Calls, Path], args: list[str]) -> None:
    from prefect_quantum.cli import app

    runner, calls, _ = cli
    before = len(calls.flows)
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (args, result.output, result.exception)
    assert len(calls.flows) == before + 1


@pytest.mark.parametrize("url", ["'; DROP TABLE requests;--", "nope://x", "", "sqlite:///\x00"])
def test_cli_refuses_bad_store_urls(url: str) -> None:
    from typer.testing import CliRunner

    from prefect_quantum.cli import app

    result = CliRunner().invoke(app, ["queue", "--url", url, "--json"])
    assert result.exit_code == 2 and "url" in result.output


# -- blocks: refused on construction and on assignment; saves cannot half-write --------------

def _block(name: str) -> Any:
    from prefect_quantum.blocks import QuantumFleet, QuantumScheduler

    return {"QuantumScheduler": QuantumScheduler, "QuantumFleet": QuantumFleet}[name]


@settings(BAD, max_examples=120)
@given(invalid_block_cases())
def test_invalid_block_fields_name_the_field(case: tuple[str, dict[str, Any], str]) -> None:
    from pydantic import ValidationError

    name, fields, field = case
    with pytest.raises(ValidationError) as info:
        _block(name)(**fields)
    assert refusal_problem(info.value, field) is None, (fields, str(info.value))


@settings(BAD, max_examples=50)
@given(invalid_block_cases())
def test_invalid_block_assignments_are_refused_and_change_nothing(
    case: tuple[str, dict[str, Any], str]
) -> None:
    from pydantic import ValidationError

    name, fields, field = case
    if field not in _block(name).model_fields:
        return
    block = _block(name)()
    before = block.model_dump()
    with pytest.raises(ValidationError):
        setattr(block, field, fields[field])
    assert block.model_dump() == before


@settings(BAD, max_examples=50)
@given(valid_block_fields())
def test_valid_block_fields_are_accepted(case: tuple[str, dict[str, Any]]) -> None:
    name, fields = case
    block = _block(name)(**fields)
    if name == "QuantumScheduler":
        block.policy()
