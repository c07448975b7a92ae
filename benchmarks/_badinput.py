"""Bad input, outside pytest: the strategies of ``tests/property`` for a bounded time.

``run(budget_s)`` draws cases of every kind (job requests, circuits, QASM, circuit
parameters, tenants, CLI arguments, block fields, store requests, and QASM mutants from
the fuzzer) until the budget is spent, and counts those accepted wrongly (must be 0) and
those refused with the wrong error (another type, or not naming the field). Used by
``benchmarks/reliability.py``; ``python benchmarks/_badinput.py [budget_s]`` prints JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "property"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import strategies as bad  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

CHUNK = 20
"""Examples per Hypothesis run; runs repeat with new seeds until a kind's budget is spent."""
MAX_FAILURES_SHOWN = 5


class _Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.accepted_wrongly = 0
        self.wrong_error = 0
        self.parsed = 0  # fuzzer mutants that are valid circuits, rightly accepted
        self.failures: list[str] = []

    def add(self, problem: str | None, shown: str) -> None:
        self.tried += 1
        if problem is None:
            return
        if problem == "accepted":
            self.accepted_wrongly += 1
        else:
            self.wrong_error += 1
        if len(self.failures) < MAX_FAILURES_SHOWN:
            self.failures.append(f"{shown[:160]}: {problem[:240]}")

    def as_dict(self) -> dict[str, Any]:
        out = {"tried": self.tried, "accepted_wrongly": self.accepted_wrongly,
               "wrong_error": self.wrong_error, "failures": self.failures}
        return out | ({"parsed": self.parsed} if self.parsed else {})


def _drive(strategy: st.SearchStrategy[Any], check: Callable[[Any], None],
           budget_s: float) -> None:
    """Feed ``check`` examples of ``strategy`` in chunks until ``budget_s`` is spent."""
    end = time.monotonic() + budget_s
    run = 0
    while True:
        @seed(run)
        @settings(max_examples=CHUNK, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def chunk(example: Any) -> None:
            if time.monotonic() < end:
                check(example)

        chunk()
        run += 1
        if time.monotonic() >= end:
            return


# -- the checks per kind ---------------------------------------------------------------------

def _case_check(tally: _Tally) -> Callable[[bad.Case], None]:
    return lambda case: tally.add(bad.refused(case), case.shown)


def _fuzz_check(tally: _Tally) -> Callable[[str], None]:
    """A mutant either parses to a circuit a job can run or is refused naming ``circuits``."""
    from prefect_quantum.circuits import MAX_CIRCUIT_WIDTH, parse_qasm
    from prefect_quantum.errors import InvalidInputError

    def check(text: str) -> None:
        started = time.monotonic()
        problem: str | None = None
        try:
            circuit = parse_qasm(text, field="circuits")
        except InvalidInputError as exc:
            if exc.field != "circuits":
                problem = f"names {exc.field!r}"
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if not 1 <= circuit.num_qubits <= MAX_CIRCUIT_WIDTH or circuit.parameters:
                problem = "accepted"
            else:
                tally.parsed += 1
        if problem is None and time.monotonic() - started > 10:
            problem = f"took {time.monotonic() - started:.1f} s"
        tally.add(problem, repr(text))

    return check


def _cli_check(tally: _Tally, data: Path) -> Callable[[tuple[list[str], str]], None]:
    from typer.testing import CliRunner

    from prefect_quantum.cli import app

    runner = CliRunner()

    def check(case: tuple[list[str], str]) -> None:
        args, needle = case
        result = runner.invoke(app, args)
        problem = None
        if result.exit_code == 0 or any(data.rglob("*.db")):
            problem = "accepted"
        elif result.exit_code != 2:
            problem = f"exit {result.exit_code}: {result.exception!r}"
        elif needle not in result.output:
            problem = f"output does not name {needle!r}: {result.output[-200:]}"
        tally.add(problem, repr(args))

    return check


def _block_check(tally: _Tally) -> Callable[[tuple[str, dict[str, Any], str]], None]:
    from prefect_quantum.blocks import QuantumFleet, QuantumScheduler

    classes = {"QuantumScheduler": QuantumScheduler, "QuantumFleet": QuantumFleet}

    def check(case: tuple[str, dict[str, Any], str]) -> None:
        name, fields, field = case
        error: BaseException | None = None
        try:
            classes[name](**fields)
        except Exception as exc:
            error = exc
        tally.add(bad.refusal_problem(error, field), f"{name}({fields!r})")

    return check


def _store_check(tally: _Tally, store: Any) -> Callable[[Any], None]:
    from prefect_quantum.scheduling import Request

    def check(case: tuple[dict[str, Any], dict[str, Any] | None, str]) -> None:
        fields, payload, field = case
        error: BaseException | None = None
        try:
            store.submit(Request(**fields), payload)
        except Exception as exc:
            error = exc
        problem = bad.refusal_problem(error, field)
        if store.queue(include_finished=True) or store.audit():
            problem = "accepted"  # something was written
        tally.add(problem, f"{field}: {fields.get(field, payload)!r}")

    return check


def _no_flow(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("bad input reached the flow")


def run(budget_s: float) -> dict[str, Any]:
    """Try bad inputs of every kind for about ``budget_s`` seconds (split evenly).

    Returns ``tried``, ``accepted_wrongly`` (must be 0), ``wrong_error`` (refused, but
    not with our error naming the field; must be 0), ``by_kind`` (the same per kind, with
    up to five failures shown) and ``seconds``.
    """
    import prefect_quantum.cli as cli_module
    import prefect_quantum.flows as flows_module
    from prefect_quantum.scheduling import PolicyConfig
    from prefect_quantum.store import SchedulerStore

    started = time.monotonic()
    tallies = {kind: _Tally() for kind in (
        "job_request", "circuit", "qasm", "qasm_fuzz", "circuit_param", "tenant", "cli",
        "block", "store")}
    share = max(budget_s, 0.0) / len(tallies)
    saved_env = os.environ.get("XDG_DATA_HOME")
    saved = (flows_module.hybrid_job, cli_module._load_scheduler)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "xdg"
        data.mkdir()
        os.environ["XDG_DATA_HOME"] = str(data)
        # A CLI run that got past validation would reach these; none may.
        flows_module.hybrid_job = _no_flow  # type: ignore[assignment]
        cli_module._load_scheduler = lambda name: None
        store = SchedulerStore(f"sqlite:///{Path(tmp) / 'bad.db'}", PolicyConfig())
        try:
            plan: list[tuple[str, st.SearchStrategy[Any], Callable[[Any], None]]] = [
                ("job_request", bad.invalid_job_cases(), _case_check(tallies["job_request"])),
                ("circuit", bad.circuit_cases(), _case_check(tallies["circuit"])),
                ("qasm", bad.qasm_cases(), _case_check(tallies["qasm"])),
                ("qasm_fuzz", bad.qasm_mutants(), _fuzz_check(tallies["qasm_fuzz"])),
                ("circuit_param", bad.circuit_parameter_cases(),
                 _case_check(tallies["circuit_param"])),
                ("tenant", bad.tenant_cases(), _case_check(tallies["tenant"])),
                ("cli", bad.invalid_cli_cases().map(
                    lambda c: (["run", "--scheduler", "default", *c[0][1:]], c[1])),
                 _cli_check(tallies["cli"], data)),
                ("block", bad.invalid_block_cases(), _block_check(tallies["block"])),
                ("store", bad.invalid_store_cases(), _store_check(tallies["store"], store)),
            ]
            for _kind, strategy, check in plan:
                _drive(strategy, check, share)
        finally:
            store.close()
            flows_module.hybrid_job, cli_module._load_scheduler = saved
            if saved_env is None:
                os.environ.pop("XDG_DATA_HOME", None)
            else:
                os.environ["XDG_DATA_HOME"] = saved_env
    by_kind = {kind: t.as_dict() for kind, t in tallies.items()}
    return {
        "tried": sum(t.tried for t in tallies.values()),
        "accepted_wrongly": sum(t.accepted_wrongly for t in tallies.values()),
        "wrong_error": sum(t.wrong_error for t in tallies.values()),
        "by_kind": by_kind,
        "seconds": round(time.monotonic() - started, 1),
    }


if __name__ == "__main__":
    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    sys.stdout.write(json.dumps(run(budget), indent=2) + "\n")
