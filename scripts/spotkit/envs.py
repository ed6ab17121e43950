"""Environments: ``settings.yaml`` -> ``terraform/<env>/`` rendered files.

``settings.yaml`` (repository root) holds ``defaults`` and ``environments.<name>``; an
environment's settings are ``defaults`` deep-merged with its own section (maps merge key by key,
lists and scalars replace). :func:`render` writes three git-ignored files into the environment's
Terraform root from the jinja2 templates in ``terraform/templates/``:

* ``backend.tf`` - local state under ``.spotkit/local-<port>/`` for the emulator, S3 otherwise;
* ``providers.tf`` - the ``aws`` provider; for the emulator every used service endpoint points at
  :func:`spotkit.aws.emulator_endpoint` (endpoint keys of hashicorp/aws 5.x and 6.x, the versions
  the modules accept: ``events``, ``logs``, ``fis``, ``s3_use_path_style``);
* ``terraform.tfvars.json`` - the root's input variables.

Before anything is rendered the settings are checked against ``settings.schema.json``
(:mod:`spotkit.settings_schema`): unknown keys and wrong types are reported one line each, with
the dotted path in the file, e.g. ``settings.yaml: environments.dev.compute.instance_type:
unknown key (did you mean instance_types?)``.

Source for the provider arguments: Terraform AWS provider docs, "Custom Service Endpoints" guide.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import jinja2
import yaml

from spotkit import paths

#: Marks a value that must be replaced before the environment is deployed.
PLACEHOLDER = "REPLACE-ME"
TEMPLATES = ("backend.tf", "providers.tf", "terraform.tfvars.json")

# Services the kit uses (and a few its neighbours use: Step Functions, SSM, S3, CloudFormation).
_ENDPOINTS_COMMON = [
    "autoscaling", "batch", "cloudformation", "cloudwatch", "dynamodb", "ec2", "ecs", "events", "fis", "iam", "kms",
    "lambda", "logs", "s3", "sns", "sqs", "ssm", "stepfunctions", "sts",
]
#: Provider ``endpoints`` keys per hashicorp/aws major version (the modules accept 5.x and 6.x;
#: both name the services alike). Source: the provider's "Custom Service Endpoints" guide.
ENDPOINT_KEYS = {
    5: sorted(_ENDPOINTS_COMMON),
    6: sorted(_ENDPOINTS_COMMON),
}


class SettingsError(click.ClickException):
    """settings.yaml is missing, malformed, or does not define what was asked for (exit status 1)."""


class SettingsInvalid(SettingsError):
    """settings.yaml does not match its schema; ``problems`` holds one line per problem.

    Shown as one ``Error: <line>`` per problem (exit status 1, like every SettingsError).
    """

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = list(problems)

    def show(self, file=None) -> None:
        for line in self.problems:
            click.echo(f"Error: {line}", err=True, file=file)


def _label(path: Path) -> str:
    """How messages name the settings file: relative to the repository when it is in it."""
    try:
        return str(Path(path).resolve().relative_to(paths.REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


@dataclass
class Environment:
    """One environment of settings.yaml, merged with the defaults.

    Attributes:
        name: environment name (``local``, ``dev``, ``prod``...).
        region: AWS Region, e.g. ``us-east-1``.
        emulator: True when the environment targets the local AWS emulator.
        settings: the merged settings (a plain dict, as in settings.yaml).
        root_dir: the Terraform root, ``terraform/<name>/``.
    """

    name: str
    region: str
    emulator: bool
    settings: dict[str, Any]
    root_dir: Path

    @property
    def resource_name(self) -> str:
        """Name prefix of the environment's resources (settings ``name``, default ``spotkit-<env>``)."""
        return self.settings.get("name") or f"spotkit-{self.name}"

    def placeholders(self) -> list[str]:
        """Dotted paths of settings that still hold a ``REPLACE-ME`` placeholder."""
        found: list[str] = []

        def walk(value: Any, path: str) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(v, f"{path}.{k}" if path else str(k))
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    walk(v, f"{path}[{i}]")
            elif isinstance(value, str) and PLACEHOLDER in value:
                found.append(path)

        walk(self.settings, "")
        return found

    def state_path(self) -> Path | None:
        """Local backend state file (emulator environments only), per emulator port."""
        if self.settings.get("backend", {}).get("type", "local") != "local":
            return None
        from spotkit.aws import emulator_port

        return paths.STATE_DIR / f"{self.name}-{emulator_port()}" / "terraform.tfstate"


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_settings(path: Path | None = None) -> dict[str, Any]:
    """Parse settings.yaml (``path`` or :data:`spotkit.paths.SETTINGS_FILE`).

    Raises:
        SettingsError: the file is missing, is not YAML, or has no ``environments`` map.
        SettingsInvalid: a top-level key other than ``defaults`` and ``environments``.
    """
    from spotkit import settings_schema

    path = Path(path or paths.SETTINGS_FILE)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise SettingsError(f"{path} does not exist (it defines the environments)") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("environments"), dict):
        raise SettingsError(f"{path} must be a mapping with an 'environments' mapping")
    bad = settings_schema.file_problems(data)
    if bad:
        raise SettingsInvalid([f"{_label(path)}: {line}" for line in bad])
    return data


def validate(data: dict[str, Any], name: str) -> dict[str, Any]:
    """Check ``defaults`` and ``environments.<name>`` of ``data`` (parsed settings.yaml) against
    the schema, then their merge; return the merged settings (a new dict).

    Raises:
        SettingsInvalid: one line per problem, ``settings.yaml: <dotted path>: <what is wrong>``;
            problems of the sections as written are reported first (the merge is checked only
            when they have none, so a problem is reported once, where it was written).
    """
    from spotkit import settings_schema

    label = _label(paths.SETTINGS_FILE)
    defaults = data.get("defaults") or {}
    own = data["environments"].get(name) or {}
    found = [*settings_schema.problems(defaults, "defaults"),
             *settings_schema.problems(own, f"environments.{name}")]
    merged = _deep_merge(defaults, own) if isinstance(defaults, dict) and isinstance(own, dict) else {}
    if not found:
        found = settings_schema.problems(merged, f"environments.{name}", merged=True)
    if found:
        raise SettingsInvalid([f"{label}: {line}" for line in found])
    return merged


def load_environment(name: str) -> Environment:
    """The environment ``name`` of settings.yaml, merged with ``defaults``.

    Raises:
        SettingsError: ``name`` is not defined (the message lists the defined ones).
        SettingsInvalid: ``defaults`` or the environment does not match the schema (unknown key,
            wrong type, no ``region`` or ``job_definition.image``): see :func:`validate`.
    """
    data = load_settings()
    envs = data["environments"]
    if name not in envs:
        known = ", ".join(sorted(envs)) or "none"
        raise SettingsError(f"unknown environment {name!r}; settings.yaml defines: {known}")
    merged = validate(data, name)
    region = merged["region"]
    return Environment(
        name=name,
        region=str(region),
        emulator=bool(merged.get("emulator", False)),
        settings=merged,
        root_dir=paths.TERRAFORM_DIR / name,
    )


def locked_aws_version(root_dir: Path) -> str | None:
    """hashicorp/aws version pinned by ``root_dir/.terraform.lock.hcl`` (None without a lock)."""
    lock = root_dir / ".terraform.lock.hcl"
    if not lock.exists():
        return None
    m = re.search(r'provider "registry\.terraform\.io/hashicorp/aws" \{\s*version\s*=\s*"([^"]+)"',
                  lock.read_text())
    return m.group(1) if m else None


def aws_provider_major(env: Environment) -> int:
    """Major version of hashicorp/aws the root will run with: the lock file's; without a lock, 6
    with ``SPOTKIT_PROVIDER_SOURCE=registry`` (Terraform picks the newest) and 5 otherwise."""
    version = locked_aws_version(env.root_dir)
    if version:
        return int(version.split(".")[0])
    return 6 if os.environ.get("SPOTKIT_PROVIDER_SOURCE") == "registry" else 5


def _check(env: Environment) -> None:
    """What the schema does not say: the backend and network an environment needs, and chaos
    stop conditions (the schema checks keys and types)."""
    from spotkit import settings_schema

    s = env.settings
    where = f"{_label(paths.SETTINGS_FILE)}: environments.{env.name}"
    found = settings_schema.problems(s, f"environments.{env.name}", merged=True)
    if found:  # an Environment built by hand, not by load_environment
        raise SettingsInvalid([f"{_label(paths.SETTINGS_FILE)}: {line}" for line in found])
    backend = s.get("backend") or {}
    if backend.get("type", "local") == "s3":
        missing = [k for k in ("bucket", "key", "dynamodb_table") if not backend.get(k)]
        if missing:
            raise SettingsError(f"{where}.backend: the s3 backend needs {', '.join('backend.' + k for k in missing)}")
    net = s.get("network") or {}
    if env.emulator and not net.get("vpc_cidr"):
        raise SettingsError(f"{where}.network: emulator environments need network.vpc_cidr")
    if not env.emulator and not (net.get("subnet_ids") and net.get("security_group_ids")):
        raise SettingsError(f"{where}.network: network.subnet_ids and network.security_group_ids are required")
    chaos = s.get("chaos") or {}
    if (chaos.get("create") and chaos.get("require_stop_condition")
            and not (chaos.get("create_stop_condition_alarm") or chaos.get("stop_condition_alarm_arns"))):
        raise SettingsError(
            f"{where}.chaos: chaos.require_stop_condition needs chaos.create_stop_condition_alarm: true or "
            "chaos.stop_condition_alarm_arns (an FIS experiment template must not run without a stop condition)")


def render_files(env: Environment) -> dict[str, str]:
    """The rendered files of ``env``: file name -> content (nothing is written).

    Raises:
        SettingsError: the settings are incomplete or inconsistent (see the message);
            SettingsInvalid when they do not match the schema.
    """
    from spotkit.aws import emulator_endpoint

    aws_major = aws_provider_major(env)
    _check(env)
    keys = ENDPOINT_KEYS.get(aws_major, ENDPOINT_KEYS[5])
    width = max(len(k) for k in keys)
    zip_path = Path(env.settings.get("lambda_zip_path") or paths.BUILD_DIR / "resubmit.zip")
    if not zip_path.is_absolute():
        zip_path = paths.REPO_ROOT / zip_path
    state = env.state_path()
    context = {
        "env": env,
        "name": env.resource_name,
        "settings": env.settings,
        "backend": env.settings.get("backend", {"type": "local"}),
        "state_path": str(state) if state else None,
        "aws_major": aws_major,
        "endpoint_keys": [k.ljust(width) for k in keys],
        "endpoint": emulator_endpoint() if env.emulator else None,
        "account_id": env.settings.get("account_id"),
        "lambda_zip_path": str(zip_path),
    }
    jenv = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(paths.TERRAFORM_DIR / "templates")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    out = {}
    for name in TEMPLATES:
        try:
            text = jenv.get_template(f"{name}.j2").render(**context)
        except jinja2.UndefinedError as exc:
            raise SettingsError(f"{env.name}: settings.yaml lacks a value {name}.j2 needs: {exc}") from exc
        if name.endswith(".json"):
            text = json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
        out[name] = text
    return out


def render(name: str) -> Path:
    """Render ``terraform/<name>/`` from settings.yaml; return that directory.

    Idempotent: a file is written only when its content changes (so Terraform and make see no
    spurious modification).

    Raises:
        SettingsError: unknown environment or incomplete settings.
    """
    env = load_environment(name)
    env.root_dir.mkdir(parents=True, exist_ok=True)
    for fname, text in render_files(env).items():
        target = env.root_dir / fname
        if target.exists() and target.read_text() == text:
            continue
        tmp = target.with_name(f".{fname}.tmp")
        tmp.write_text(text)
        tmp.replace(target)
    state = env.state_path()
    if state:
        state.parent.mkdir(parents=True, exist_ok=True)
    return env.root_dir


# --------------------------------------------------------------------------------------------- CLI

_env_option = click.option("--env", "env_name", default="local", show_default=True,
                           help="Environment name from settings.yaml.")


@click.group("env")
def env_group():
    """Render and inspect environments defined in settings.yaml."""


@env_group.command("render")
@_env_option
def render_cmd(env_name: str) -> None:
    """Write terraform/<env>/{backend.tf,providers.tf,terraform.tfvars.json} (only when changed)."""
    root = render(env_name)
    click.echo(f"rendered {root}")


@env_group.command("show")
@_env_option
def show_cmd(env_name: str) -> None:
    """Print the environment's merged settings (YAML) and placeholders still to replace."""
    env = load_environment(env_name)
    summary = {"name": env.name, "region": env.region, "emulator": env.emulator,
               "root_dir": str(env.root_dir), "settings": env.settings}
    click.echo(yaml.safe_dump(summary, sort_keys=False).rstrip())
    holes = env.placeholders()
    if holes:
        click.echo(f"# placeholders to replace before deploying: {', '.join(holes)}", err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(env_group())
