"""The schema of settings.yaml and its problems as one line each.

The schema is ``settings.schema.json`` next to this file (JSON Schema 2020-12, checked with the
``jsonschema`` library). It gives every key of an environment (and of ``defaults``) its type and
rejects unknown keys; the five grouped sections (``compute``, ``job_queue``, ``job_definition``,
``resubmit``, ``chaos``) have exactly the attributes of the object types of
``modules/spotkit-stack/variables.tf`` (``tests/test_settings.py`` keeps the two in sync). Value
ranges and allowed values are left to the modules' own ``validation`` blocks (one source).

Two schemas come out of it:

* ``environment``: a section as written in the file (``defaults`` or ``environments.<name>``),
  where every key is optional;
* ``merged``: an environment merged with ``defaults``, which also needs ``region`` and
  ``job_definition.image``.

An editor with a YAML language server reads the same file
(``# yaml-language-server: $schema=scripts/spotkit/settings.schema.json`` in settings.yaml).
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("settings.schema.json")

#: How a JSON Schema type reads in a message.
_TYPE_WORDS = {"string": "a string", "number": "a number", "integer": "a whole number", "boolean": "true or false",
               "array": "a list", "object": "a mapping", "null": "null"}
#: An unknown key lists the known ones when there are at most this many (else names the source).
_MAX_LISTED = 15


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The parsed ``settings.schema.json`` (the whole file: ``defaults``, ``environments``, ``$defs``)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _validator(definition: str):
    from jsonschema import Draft202012Validator

    root = schema()
    return Draft202012Validator({"$schema": root["$schema"], "$defs": root["$defs"], "$ref": f"#/$defs/{definition}"})


def section_keys() -> dict[str, list[str]]:
    """The keys the schema allows: ``{"": top-level keys of an environment, "compute": [...], ...}``."""
    props = schema()["$defs"]["environment"]["properties"]
    out = {"": list(props)}
    for name, sub in props.items():
        if "properties" in sub:
            out[name] = list(sub["properties"])
    return out


def _path(base: str, parts: Iterable[Any]) -> str:
    out = base
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key(key: Any, allowed: list[str], where: str) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]}?)"
    if len(allowed) <= _MAX_LISTED:
        return f"unknown key (known: {', '.join(allowed)})"
    section = where.rsplit(".", 1)[-1]
    return f"unknown key (not an attribute of the {section!r} object in modules/spotkit-stack/variables.tf)"


def _messages(error, base: str, merged: bool) -> list[str]:
    where = _path(base, error.absolute_path)
    kind, instance = error.validator, error.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in instance if k not in allowed]
        return [f"{_path(where, [k])}: {_unknown_key(k, allowed, where)}" for k in extra]
    if kind == "required" and isinstance(instance, dict):
        hint = " (in the environment or in defaults)" if merged else ""
        return [f"{_path(where, [k])}: required{hint}" for k in error.validator_value if k not in instance]
    if kind == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        words = " or ".join(_TYPE_WORDS.get(t, t) for t in wanted if t != "null")
        hint = ""
        if "string" in wanted and isinstance(instance, (int, float)) and not isinstance(instance, bool):
            hint = " (quote it: YAML reads it as a number)"
        elif "string" in wanted and isinstance(instance, bool):
            hint = " (quote it: YAML reads yes/no/true/false as booleans)"
        return [f"{where}: must be {words}, not {_show(instance)}{hint}"]
    if kind == "enum":
        return [f"{where}: must be one of {', '.join(map(str, error.validator_value))}, not {_show(instance)}"]
    return [f"{where}: {error.message}"]


def problems(instance: Any, base: str, *, merged: bool = False) -> list[str]:
    """What is wrong with one environment's settings, one line per problem, in path order.

    Args:
        instance: a section as parsed from YAML (``defaults``, ``environments.<name>``), or with
            ``merged`` the environment merged with ``defaults``.
        base: the dotted path of ``instance`` in the file, e.g. ``environments.dev``; every line
            starts with it followed by the path inside, e.g.
            ``environments.dev.compute.instance_type: unknown key (did you mean instance_types?)``.
        merged: also require what a complete environment needs (``region``, ``job_definition.image``).

    Returns:
        The lines (empty when the settings are valid).
    """
    validator = _validator("merged" if merged else "environment")
    lines = {line for error in validator.iter_errors(instance) for line in _messages(error, base, merged)}
    return sorted(lines)


def file_problems(data: dict[str, Any]) -> list[str]:
    """Problems with the top level of settings.yaml: keys other than ``defaults`` and ``environments``."""
    allowed = list(schema()["properties"])
    return [f"{k}: {_unknown_key(k, allowed, '')}" for k in data if k not in allowed]


__all__ = ["SCHEMA_FILE", "schema", "section_keys", "problems", "file_problems"]
