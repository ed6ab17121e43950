"""Helpers shared by the CKV_SPOTKIT Python checks (no checks here).

checkov's external-checks loader executes every ``.py`` file of the directory as a top-level
module with the directory on ``sys.path``, so the checks import this file as
``spotkit_policy_util``; imported as part of the spotkit package they use the relative import.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase
from typing import Any, Iterator

# The reason AWS Batch gives an attempt whose Spot host was reclaimed (docs/classification.md, entry 1).
HOST_LOSS_REASON = "Host EC2 (instance i-0123456789abcdef0) terminated."

UNRESOLVED = object()


def first(value: Any, default: Any = None) -> Any:
    """checkov wraps every HCL attribute value in a one-element list; unwrap it."""
    if isinstance(value, list):
        return value[0] if value else default
    return default if value is None else value


def block(conf: dict, name: str) -> dict | None:
    """The first ``name { ... }`` block of a resource (or None)."""
    value = conf.get(name)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    if isinstance(value, dict):
        return value
    return None


def blocks(conf: dict, name: str) -> list[dict]:
    value = conf.get(name) or []
    if isinstance(value, dict):
        return [value]
    return [b for b in value if isinstance(b, dict)]


# The iterator of a dynamic block checkov could not expand: checkov copies the block's content in
# as it is written, e.g. reason = "job_state_time_limit_action.value.reason".
_DYNAMIC_ITERATOR = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*\.(value|key)(\.|\[|$)")


def is_unresolved(value: Any) -> bool:
    """A reference checkov could not render (var./local./module./resource attribute, ${...}, the
    iterator of an unexpanded dynamic block)."""
    if not isinstance(value, str):
        return False
    return ("${" in value or bool(re.match(r"^(var|local|module|data|each|count)\.", value))
            or bool(_DYNAMIC_ITERATOR.match(value)))


def as_int(value: Any) -> Any:
    """int, None (absent) or UNRESOLVED."""
    value = first(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return UNRESOLVED
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return UNRESOLVED
    return UNRESOLVED


def as_str(value: Any) -> Any:
    value = first(value)
    if value is None:
        return None
    if not isinstance(value, str) or is_unresolved(value):
        return UNRESOLVED
    return value


def as_condition(value: Any) -> Any:
    """An evaluate_on_exit condition (on_status_reason, on_reason, on_exit_code): like
    :func:`as_str`, but "" is None. A plan JSON holds "" for a condition that was not set
    (hashicorp/aws plans the unset optional string as ""), and the provider sends no empty
    condition to AWS Batch, so "" and absent mean the same."""
    value = as_str(value)
    return None if value == "" else value


def glob_matches(pattern: str, text: str) -> bool:
    """AWS Batch evaluateOnExit globs: a trailing ``*`` only (job_definition_parameters)."""
    return fnmatchcase(text, pattern)


def as_json(value: Any) -> Any:
    """container_properties & co.: checkov gives jsonencode(...) as a dict, heredocs as a string."""
    value = first(value)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return UNRESOLVED
    return value


def environment_lists(doc: Any) -> Iterator[list]:
    """Every ``environment`` list of {name, value} anywhere in a container/ECS/EKS/node document."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("environment", "env") and isinstance(value, list):
                yield value
            else:
                yield from environment_lists(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from environment_lists(item)


# Names that hold a secret when their value is the secret itself ...
_SECRET_NAME = re.compile(
    r"(WEBHOOK|PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH)",
    re.IGNORECASE,
)
# ... unless the name says the value only points at where the secret is kept.
_REFERENCE_NAME = re.compile(r"(_ARN|_PARAM|_PARAMETER|_PARAMETER_NAME|_SSM|_SSM_NAME|_SECRET_ID|_SECRET_NAME|_PATH)$",
                             re.IGNORECASE)
_SECRET_VALUE = re.compile(
    r"(https://hooks\.slack\.com/|https://discord(app)?\.com/api/webhooks/|\.webhook\.office\.com/|"
    r"\bxox[abposr]-|\bAKIA[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bgh[pousr]_[A-Za-z0-9]{30,})"
)
_REFERENCE_VALUE = re.compile(r"^(arn:aws[a-z-]*:(ssm|secretsmanager):|/|\{\{resolve:)")


def secret_problem(name: str, value: Any) -> str | None:
    """Why ``name=value`` in a plain environment looks like a secret, or None."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if text and _SECRET_VALUE.search(text):
        return f"{name} holds a secret value (webhook URL / token / key)"
    if _SECRET_NAME.search(name) and not _REFERENCE_NAME.search(name):
        if isinstance(value, str) and _REFERENCE_VALUE.match(value):
            return None  # an SSM parameter name or ARN: the function reads the secret at run time
        if text == "":
            return None
        return f"{name} looks like a secret"
    return None
