"""settings.yaml against its schema (scripts/spotkit/settings.schema.json, spotkit.settings_schema).

The schema's five grouped sections must be exactly the object types of modules/spotkit-stack
(read from variables.tf with bc-python-hcl2, the parser spotkit scan already uses); the committed
settings must validate; unknown keys and wrong types at every level must be one line naming the
environment and the dotted path.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from spotkit import envs, settings_schema

REPO = Path(__file__).resolve().parents[1]
STACK_VARIABLES = REPO / "modules" / "spotkit-stack" / "variables.tf"
SECTIONS = ("compute", "job_queue", "job_definition", "resubmit", "chaos")


# ----------------------------------------------------------------------------- Terraform types

def _unwrap(expr: str) -> str:
    expr = expr.strip()
    if expr.startswith("${") and expr.endswith("}"):
        expr = expr[2:-1].strip()
    return expr


def _split_args(text: str) -> list[str]:
    """``a, b`` split at commas outside brackets and quotes."""
    out, depth, quote, cur = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    return [*out, cur.strip()] if cur.strip() else out


def tf_type(expr: str) -> tuple:
    """A type expression as bc-python-hcl2 0.4.3 gives it (``"${object({'a': '${optional(number)}'})}"``)
    -> ``("string"|"number"|"bool",)``, ``("list"|"set"|"map", T)`` or
    ``("object", {name: (T, optional?, default)})``."""
    expr = _unwrap(expr)
    if expr in ("string", "number", "bool", "any"):
        return (expr,)
    head, _, rest = expr.partition("(")
    assert rest.endswith(")"), f"cannot parse Terraform type {expr!r}"
    inner = rest[:-1]
    if head in ("list", "set", "map"):
        return (head, tf_type(inner))
    assert head == "object", f"cannot parse Terraform type {expr!r}"
    attrs = {}
    for name, t in ast.literal_eval(inner).items():  # hcl2 writes the attributes as a Python dict
        t = _unwrap(t)
        if t.startswith("optional(") and t.endswith(")"):
            args = _split_args(t[len("optional("):-1])
            attrs[name] = (tf_type(args[0]), True, ast.literal_eval(args[1]) if len(args) > 1 else None)
        else:
            attrs[name] = (tf_type(t), False, None)
    return ("object", attrs)


def as_json_schema(t: tuple, nullable: bool = False) -> dict:
    """What the schema must say for Terraform type ``t`` (an optional attribute may be null)."""
    names = {"string": "string", "number": "number", "bool": "boolean", "list": "array", "set": "array",
             "map": "object", "object": "object"}
    out: dict[str, Any] = {"type": [names[t[0]], "null"] if nullable else names[t[0]]}
    if t[0] in ("list", "set"):
        out["items"] = as_json_schema(t[1])
    elif t[0] == "map":
        out["additionalProperties"] = as_json_schema(t[1])
    elif t[0] == "object":
        out["properties"] = {n: as_json_schema(a[0], nullable=a[1]) for n, a in t[1].items()}
        required = [n for n, a in t[1].items() if not a[1]]
        if required:
            out["required"] = required
        out["additionalProperties"] = False
    return out


def _without_descriptions(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _without_descriptions(v) for k, v in doc.items() if k != "description"}
    if isinstance(doc, list):
        return [_without_descriptions(v) for v in doc]
    return doc


def stack_objects() -> dict[str, tuple]:
    variables = {}
    for block in hcl2.loads(STACK_VARIABLES.read_text())["variable"]:
        for name, body in block.items():
            variables[name] = body
    return {name: tf_type(variables[name]["type"][0]) for name in SECTIONS}


def test_the_type_parser_reads_nested_optional_objects():
    """The parser the sync test relies on, on a type as hcl2 gives it."""
    expr = ("${object({'a': '${optional(bool,False)}', 'b': \"${optional(list(object({'c': '${string}', "
            "'d': '${optional(map(number))}'})))}\"})}")
    assert tf_type(expr) == ("object", {
        "a": (("bool",), True, False),
        "b": (("list", ("object", {"c": (("string",), False, None), "d": (("map", ("number",)), True, None)})),
              True, None),
    })


# ----------------------------------------------------------------------------- schema == Terraform

@pytest.mark.parametrize("section", SECTIONS)
def test_schema_section_is_the_spotkit_stack_object_type(section):
    tf = stack_objects()[section]
    assert tf[0] == "object"
    schema_section = settings_schema.schema()["$defs"]["environment"]["properties"][section]
    # names first, for a readable failure
    assert sorted(schema_section["properties"]) == sorted(tf[1]), section
    expected = as_json_schema(tf)
    # what a complete environment needs (job_definition.image) is required of the merged
    # settings, not of every section as written (defaults, environments.<name>)
    required = expected.pop("required", [])
    merged_required = settings_schema.schema()["$defs"]["merged"]["properties"].get(section, {}).get("required", [])
    assert sorted(merged_required) == sorted(required)
    assert _without_descriptions(schema_section) == expected


def test_section_keys_lists_what_the_schema_allows():
    keys = settings_schema.section_keys()
    assert {"name", "emulator", "region", "account_id", "backend", "network", "lambda_zip_path", "tags",
            *SECTIONS} == set(keys[""])
    assert keys["backend"] == ["type", "bucket", "key", "region", "dynamodb_table", "encrypt"]
    assert "max_resubmissions" in keys["resubmit"]


# ----------------------------------------------------------------------------- the committed file

def _committed() -> dict:
    return yaml.safe_load((REPO / "settings.yaml").read_text())


def test_the_committed_defaults_validate():
    assert settings_schema.problems(_committed()["defaults"], "defaults") == []


@pytest.mark.parametrize("name", sorted(_committed()["environments"]))
def test_every_committed_environment_validates_and_renders(name):
    data = _committed()
    merged = envs.validate(data, name)
    assert merged["region"] and merged["job_definition"]["image"]
    envs.render_files(envs.load_environment(name))  # the non-schema checks pass too


# ----------------------------------------------------------------------------- rejections

def _set(data: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()

REJECTED = [
    # unknown keys, at every level
    ("environments.dev.regoin", "eu-west-1", "environments.dev.regoin: unknown key (did you mean region?)"),
    ("defaults.tag", {"a": "b"}, "defaults.tag: unknown key (did you mean tags?)"),
    ("environments.dev.backend.dynamo_table", "t",
     "environments.dev.backend.dynamo_table: unknown key (did you mean dynamodb_table?)"),
    ("environments.dev.network.vpc", "10.0.0.0/16",
     "environments.dev.network.vpc: unknown key (known: vpc_cidr, subnet_ids, security_group_ids)"),
    ("environments.dev.compute.instance_type", ["m5.large"],
     "environments.dev.compute.instance_type: unknown key (did you mean instance_types?)"),
    ("defaults.job_queue.runnable_time_limit_actions", [{"reason": "X", "max_time_seconds": 600, "action": "CANCEL"}],
     "defaults.job_queue.runnable_time_limit_actions[0].action: unknown key (known: reason, max_time_seconds)"),
    ("environments.dev.job_definition.evaluate_on_exit", [{"action": "RETRY", "on_status": "Host EC2*"}],
     "environments.dev.job_definition.evaluate_on_exit[0].on_status: unknown key (did you mean on_status_reason?)"),
    ("environments.dev.resubmit.max_resubmission", 3,
     "environments.dev.resubmit.max_resubmission: unknown key (did you mean max_resubmissions?)"),
    ("environments.dev.resubmit.slack_webhook", "x", "environments.dev.resubmit.slack_webhook: unknown key "
     "(not an attribute of the 'resubmit' object in modules/spotkit-stack/variables.tf)"),
    ("environments.dev.chaos.optin", True, "environments.dev.chaos.optin: unknown key (did you mean opt_in?)"),
    # wrong types
    ("environments.dev.region", 5,
     "environments.dev.region: must be a string, not 5 (quote it: YAML reads it as a number)"),
    ("environments.dev.emulator", "no", 'environments.dev.emulator: must be true or false, not "no"'),
    ("environments.dev.account_id", 123456789012,
     "environments.dev.account_id: must be a string, not 123456789012 (quote it: YAML reads it as a number)"),
    ("environments.dev.backend.type", "gcs", 'environments.dev.backend.type: must be one of local, s3, not "gcs"'),
    ("environments.dev.backend.encrypt", "yes", 'environments.dev.backend.encrypt: must be true or false, not "yes"'),
    ("environments.dev.network.subnet_ids", "subnet-1",
     'environments.dev.network.subnet_ids: must be a list, not "subnet-1"'),
    ("defaults.tags.team", ["a"], 'defaults.tags.team: must be a string, not ["a"]'),
    ("environments.dev.compute", ["m5.large"], 'environments.dev.compute: must be a mapping, not ["m5.large"]'),
    ("environments.dev.resubmit", None, "environments.dev.resubmit: must be a mapping, not null"),
    ("environments.dev.compute.instance_types", "m5.large",
     'environments.dev.compute.instance_types: must be a list, not "m5.large"'),
    ("environments.dev.compute.max_vcpus", "lots", 'environments.dev.compute.max_vcpus: must be a number, not "lots"'),
    ("environments.dev.compute.create_on_demand", "true",
     'environments.dev.compute.create_on_demand: must be true or false, not "true"'),
    ("defaults.job_definition.parameters.seconds", 60,
     "defaults.job_definition.parameters.seconds: must be a string, not 60 (quote it: YAML reads it as a number)"),
    ("environments.dev.job_queue.runnable_time_limit_actions", [{"reason": "X", "max_time_seconds": "10"}],
     'environments.dev.job_queue.runnable_time_limit_actions[0].max_time_seconds: must be a number, not "10"'),
    ("environments.dev.job_queue.runnable_time_limit_actions", [{"max_time_seconds": 600}],
     "environments.dev.job_queue.runnable_time_limit_actions[0].reason: required"),
    ("environments.dev.chaos.stop_condition_alarm_arns", ["arn:a", 7],
     "environments.dev.chaos.stop_condition_alarm_arns[1]: must be a string, not 7 "
     "(quote it: YAML reads it as a number)"),
    # what only the merge can tell
    ("defaults.job_definition.image", _DELETE,
     "environments.dev.job_definition.image: required (in the environment or in defaults)"),
    ("environments.dev.region", _DELETE, "environments.dev.region: required (in the environment or in defaults)"),
]


@pytest.mark.parametrize(("dotted", "value", "line"), REJECTED, ids=[r[0] + "=" + repr(r[1])[:20] for r in REJECTED])
def test_a_bad_key_or_type_is_one_line_with_its_path(dotted, value, line):
    data = _committed()
    _set(data, dotted, value)
    with pytest.raises(envs.SettingsInvalid) as exc:
        envs.validate(data, "dev")
    assert exc.value.problems == [f"settings.yaml: {line}"]
    assert exc.value.exit_code == 1  # like every SettingsError


def test_every_problem_is_reported_once():
    data = _committed()
    _set(data, "defaults.compute.instance_type", ["m5.large"])
    _set(data, "environments.dev.compute.max_vcpus", "lots")
    _set(data, "environments.dev.resubmit.batch_sise", 10)
    with pytest.raises(envs.SettingsInvalid) as exc:
        envs.validate(data, "dev")
    assert exc.value.problems == [
        "settings.yaml: defaults.compute.instance_type: unknown key (did you mean instance_types?)",
        'settings.yaml: environments.dev.compute.max_vcpus: must be a number, not "lots"',
        "settings.yaml: environments.dev.resubmit.batch_sise: unknown key (did you mean batch_size?)",
    ]


def test_only_the_requested_environment_is_checked():
    data = _committed()
    _set(data, "environments.prod.compute.instance_type", ["m5.large"])
    assert envs.validate(data, "dev")["region"] == "us-east-1"
    with pytest.raises(envs.SettingsInvalid):
        envs.validate(data, "prod")


def test_null_leaves_an_attribute_to_the_module_default():
    """null is how an environment takes back a value of defaults: the module default then applies."""
    data = _committed()
    _set(data, "environments.dev.job_definition.retry_attempts", None)
    assert envs.validate(data, "dev")["job_definition"]["retry_attempts"] is None


def test_an_unknown_top_level_key_of_the_file(tmp_path):
    path = tmp_path / "settings.yaml"
    path.write_text("environments: {}\nenviroments: {}\n")
    with pytest.raises(envs.SettingsInvalid) as exc:
        envs.load_settings(path)
    assert exc.value.problems == [f"{path}: enviroments: unknown key (did you mean environments?)"]


def test_the_s3_backend_check_names_the_path():
    """A check the schema does not make (needs of an s3 backend) stays, in the same format."""
    data = copy.deepcopy(_committed())
    _set(data, "environments.dev.backend.bucket", _DELETE)
    env = envs.Environment(name="dev", region="us-east-1", emulator=False, settings=envs.validate(data, "dev"),
                           root_dir=REPO / "terraform" / "dev")
    with pytest.raises(envs.SettingsError) as exc:
        envs.render_files(env)
    assert exc.value.message == "settings.yaml: environments.dev.backend: the s3 backend needs backend.bucket"


# ----------------------------------------------------------------------------- one source of defaults

#: The child module holding each section's defaults (the attribute names are its variable names).
CHILD_MODULES = {"compute": "batch-compute", "job_queue": "job-queue", "job_definition": "job-definition",
                 "resubmit": "spot-resubmit", "chaos": "chaos-fis"}
#: Values settings.yaml `defaults:` may repeat although they equal the module default, and why.
ALLOWED_REPEATS = {
    # Safety: a reader must see that chaos is off and nothing is opted in unless an environment says so.
    ("chaos", "create"): "chaos is off unless an environment turns it on",
    ("chaos", "opt_in"): "no instance is fair game unless an environment opts in",
}


def module_defaults(section: str) -> dict[str, Any]:
    """{attribute: effective default} of a spotkit-stack section: the optional(T, default) of
    modules/spotkit-stack when it has one, else the child module variable's default (variables
    without a default are left out)."""
    out = {}
    for block in hcl2.loads((REPO / "modules" / CHILD_MODULES[section] / "variables.tf").read_text())["variable"]:
        for name, body in block.items():
            if "default" in body:
                out[name] = body["default"][0]
    for name, (_, optional, default) in stack_objects()[section][1].items():
        if optional and default is not None:
            out[name] = default
    return out


def test_module_defaults_are_read():
    """The reader this test relies on, on values the modules document."""
    assert module_defaults("resubmit")["max_resubmissions"] == 3
    assert module_defaults("compute")["allocation_strategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    assert module_defaults("compute")["create_on_demand"] is False  # modules/spotkit-stack's optional(bool, false)
    assert module_defaults("chaos")["create"] is False  # the stack's, not chaos-fis's own true


@pytest.mark.parametrize("section", SECTIONS)
def test_settings_defaults_do_not_repeat_module_defaults(section):
    defaults = module_defaults(section)
    for key, value in (_committed()["defaults"].get(section) or {}).items():
        assert key in settings_schema.section_keys()[section]
        if (section, key) in ALLOWED_REPEATS:
            assert defaults.get(key) == value, f"{section}.{key} is allow-listed but no longer repeats the default"
            continue
        assert key not in defaults or defaults[key] != value, (
            f"settings.yaml defaults.{section}.{key} = {value!r} is modules/{CHILD_MODULES[section]}'s default: "
            "drop it (or allow-list it with the reason)")
