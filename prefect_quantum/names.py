"""The one rule for names users choose: tenants, job ids, devices, compliance domains and
priority classes.

A name is 1-64 ASCII letters, digits, ``_``, ``.`` or ``-``, starting with a letter or
digit: safe in SQL parameters, file names, URLs, Prefect event resource ids and logs, with
no control characters, no whitespace, no ``..`` path step and nothing to template. Imports
only the standard library, so the scheduling core and the store can use it.

>>> check_tenant("chem-team")
'chem-team'
"""

from __future__ import annotations

import re

from prefect_quantum.errors import InvalidInputError

MAX_NAME_CHARS = 64
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
"""``NAME_PATTERN`` as pydantic's ``pattern=`` (its regex has no trailing-newline ``$``)."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
NAME_RULE = "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


def is_name(value: object) -> bool:
    """True when ``value`` follows the name rule."""
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def check_name(value: object, field: str) -> str:
    """``value`` when it follows the name rule; InvalidInputError naming ``field`` otherwise."""
    if not is_name(value):
        raise InvalidInputError(field, f"expected {NAME_RULE}; got {shown(value)}")
    assert isinstance(value, str)
    return value


def check_tenant(value: object, field: str = "tenant") -> str:
    """A tenant name (the name rule); InvalidInputError naming ``field`` otherwise."""
    return check_name(value, field)
