"""Parsing the ``mitigation`` option of a job."""

from __future__ import annotations

import pytest

from prefect_quantum.errors import InvalidInputError
from prefect_quantum.mitigation import MitigationConfig, ZNEConfig, parse_mitigation


@pytest.mark.parametrize(
    ("text", "technique", "zne", "rem"),
    [
        ("none", "none", False, False),
        ("zne", "zne", True, False),
        ("REM", "rem", False, True),
        ("zne+rem", "zne+rem", True, True),
        ("rem + zne", "zne+rem", True, True),
    ],
)
def test_parse(text: str, technique: str, zne: bool, rem: bool) -> None:
    config = parse_mitigation(text)
    assert config.technique == technique
    assert (config.uses_zne, config.uses_rem) == (zne, rem)
    assert config.zne == ZNEConfig()


def test_parse_keeps_a_given_zne_config_and_passes_configs_through() -> None:
    zne = ZNEConfig((1.0, 3.0), factory="linear")
    assert parse_mitigation("zne", zne).zne is zne
    config = MitigationConfig("rem")
    assert parse_mitigation(config) is config


@pytest.mark.parametrize("text", ["", "pec", "zne+", "zne+rem+ddd", 3])
def test_parse_rejects_unknown(text: object) -> None:
    with pytest.raises(InvalidInputError) as err:
        parse_mitigation(text)  # type: ignore[arg-type]
    assert err.value.field == "mitigation"


def test_layering_mitigation_and_observables_load_no_prefect_polars_or_siblings() -> None:
    import subprocess
    import sys

    code = (
        "import sys, prefect_quantum.mitigation.rem, prefect_quantum.observables\n"
        "mods = [m for m in sys.modules if m.split('.')[0] in ('prefect', 'polars')]\n"
        "ours = {m for m in sys.modules if m.startswith('prefect_quantum.')}\n"
        "allowed = {'prefect_quantum.errors', 'prefect_quantum.names',\n"
        "           'prefect_quantum.observables'}\n"
        "print(mods, sorted(m for m in ours - allowed if not m.startswith("
        "'prefect_quantum.mitigation')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"
