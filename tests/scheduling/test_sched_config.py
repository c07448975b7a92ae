"""`PolicyConfig` validation: every error names the field."""

from __future__ import annotations

import pytest

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.scheduling import FallbackMode, PolicyConfig


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"shares": {"a": 0.0}}, "shares['a']"),
    ({"default_share": -1.0}, "default_share"),
    ({"half_life_s": 0.0}, "half_life_s"),
    ({"aging_rate": 0.0}, "aging_rate"),
    ({"priority_classes": {}}, "priority_classes"),
    ({"priority_classes": {"x": 1.5}}, "priority_classes"),
    ({"preemption_grace_s": -1.0}, "preemption_grace_s"),
    ({"min_run_s": float("nan")}, "min_run_s"),
    ({"max_preemptions_per_job": -1}, "max_preemptions_per_job"),
    ({"weight_time": 0.0, "weight_fidelity": 0.0}, "weight_time"),
    ({"calibration_max_age_s": 0.0}, "calibration_max_age_s"),
    ({"retries": 1.5}, "retries"),
    ({"retry_factor": 0.5}, "retry_factor"),
    ({"retry_cap_s": 1.0, "retry_base_s": 2.0}, "retry_cap_s"),
    ({"fallback_default": "quantum-annealer"}, "fallback_default"),
    ({"lease_ttl_s": 0.0}, "lease_ttl_s"),
    ({"work_weight": -1.0}, "work_weight"),
    ({"fair_tolerance": -0.1}, "fair_tolerance"),
    ({"strict_class": 1.5}, "strict_class"),
    ({"strict_class": True}, "strict_class"),
])
def test_invalid_values_are_rejected_naming_the_field(kwargs, field) -> None:
    with pytest.raises(InvalidInputError) as err:
        PolicyConfig(**kwargs)
    assert err.value.field == field


def test_defaults_and_lookups() -> None:
    cfg = PolicyConfig(fallback_default="ideal")  # type: ignore[arg-type]
    assert cfg.fallback_default is FallbackMode.IDEAL
    assert cfg.top_class == 3 and cfg.aging_horizon_s == pytest.approx(3600.0)
    assert cfg.class_of("high") == 2
    assert cfg.work_weight == 10.0 and cfg.strict_class == 2 and cfg.strict_level == 2
    assert cfg.fair_tolerance == 0.0
    # The top class is always strict, whatever strict_class says ([F5]).
    assert PolicyConfig(strict_class=9).strict_level == 3
    assert PolicyConfig(priority_classes={"only": 0}).strict_level == 0
    with pytest.raises(InvalidInputError, match="unknown class"):
        cfg.class_of("vip")


def test_config_is_immutable() -> None:
    cfg = PolicyConfig(shares={"a": 1.0})
    with pytest.raises(TypeError):
        cfg.shares["a"] = 2.0  # type: ignore[index]
