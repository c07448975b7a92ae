"""deployments/prefect.yaml: entrypoints load, schedules and triggers validate."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import yaml
from prefect.events import DeploymentEventTrigger

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENTS = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_entrypoint_is_a_flow_and_parameters_fit_its_signature(deployment: dict) -> None:  # type: ignore[type-arg]
    path, name = deployment["entrypoint"].split(":")
    sys.path.insert(0, str(ROOT))
    try:
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    finally:
        sys.path.remove(str(ROOT))
    flow = getattr(module, name)
    assert flow.name == deployment["name"]
    assert set(deployment.get("parameters", {})) <= set(flow.parameters.properties)


def test_operations_are_scheduled_and_drift_triggers_the_sweep() -> None:
    by_name = {d["name"]: d for d in DEPLOYMENTS}
    assert by_name["calibration-sweep"]["schedules"] == [{"interval": 900}]
    assert by_name["usage-report"]["schedules"][0]["cron"] == "0 6 * * *"
    trigger = DeploymentEventTrigger.model_validate(by_name["calibration-sweep"]["triggers"][0])
    assert trigger.expect == {"prefect-quantum.device.drift"}


def test_root_prefect_yaml_is_the_deployments_file() -> None:
    assert (ROOT / "prefect.yaml").resolve() == (ROOT / "deployments" / "prefect.yaml").resolve()


def test_crash_automation_reruns_hybrid_job_runs_after_a_quiet_interval() -> None:
    from prefect.events.schemas.automations import AutomationCore, Posture

    data = yaml.safe_load((ROOT / "deployments" / "automations.yaml").read_text())
    (automation,) = [AutomationCore.model_validate(a) for a in data["automations"]]
    trigger = automation.trigger
    assert trigger.posture is Posture.Proactive  # type: ignore[union-attr]
    assert trigger.after == {"prefect.flow-run.Crashed"}  # type: ignore[union-attr]
    assert trigger.match_related.root["prefect.resource.name"] == "hybrid-job"  # type: ignore[union-attr]
    assert [a.type for a in automation.actions] == ["change-flow-run-state"]


def test_a_run_that_crashed_too_often_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from prefect_quantum import flows
    from prefect_quantum.errors import PermanentError

    monkeypatch.setattr(flows, "flow_run", SimpleNamespace(run_count=flows.MAX_RUNS + 1, id="x"))
    with pytest.raises(PermanentError, match="giving up"):
        flows._hybrid_job(["ghz:3"], shots=10)
