"""Terraform for a spotkit environment: init / plan / apply / destroy / outputs.

Built on python-terraform 0.10.1 (``python_terraform.Terraform``) with its Terraform 1.x quirks
handled here: ``apply`` needs ``skip_plan=True`` (else it passes ``-auto-approve=false``),
``destroy`` needs ``force=IsNotFlagged, auto_approve=True``, ``plan`` always passes
``-detailed-exitcode`` (exit 2 = changes present) and ``output("name")`` is broken (we read
``terraform output -json`` instead).

Every command first runs :func:`spotkit.toolchain.ensure` (Terraform binary, offline provider
mirror, ``TF_CLI_CONFIG_FILE``) and :func:`spotkit.envs.render`, streams Terraform's own output to
the terminal, and ends with one line giving the elapsed seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
from python_terraform import IsFlagged, IsNotFlagged, Terraform

from spotkit import envs, toolchain


class TerraformFailed(click.ClickException):
    """Terraform exited non-zero; ``exit_code`` is Terraform's own exit code."""

    def __init__(self, command: str, env: str, code: int):
        super().__init__(f"terraform {command} failed for environment {env!r} (exit code {code})")
        self.exit_code = code


@contextlib.contextmanager
def _terraform(env_name: str, command: str) -> Iterator[tuple]:
    """Prepare toolchain + rendered root; yield ``(Terraform, Environment)``; report elapsed time."""
    env = envs.load_environment(env_name)
    if command != "output":
        _refuse_placeholders(env)
    tc = toolchain.ensure(quiet=True)
    root = envs.render(env_name)
    tf_env = dict(tc.env())
    if env.emulator:
        # .terraform/ lives beside the emulator's state (one per port, wiped with it), so roots
        # initialised for another port or an older emulator never clash.
        tf_env["TF_DATA_DIR"] = str(env.state_path().parent / "terraform-data")
    saved = {k: os.environ.get(k) for k in tf_env}
    os.environ.update(tf_env)  # python-terraform copies os.environ into the subprocess
    start = time.monotonic()
    ok = False
    try:
        yield Terraform(working_dir=str(root), terraform_bin_path=str(tc.terraform)), env
        ok = True
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if command != "output":
            status = "done" if ok else "failed"
            click.echo(f"[tf] {command} {env_name}: {status} in {time.monotonic() - start:.1f} s", err=True)


def _color() -> object:
    return IsNotFlagged if sys.stdout.isatty() else IsFlagged


def _refuse_placeholders(env: envs.Environment) -> None:
    holes = env.placeholders()
    if holes and not env.emulator:
        raise envs.SettingsError(
            f"environment {env.name!r} still has placeholder settings: {', '.join(holes)} "
            "(edit settings.yaml)")


def _check(code: int, command: str, env: str, ok=(0,)) -> int:
    if code not in ok:
        raise TerraformFailed(command, env, code)
    return code


def init(env: str = "local") -> None:
    """``terraform init`` in ``terraform/<env>/`` (``-reconfigure`` for emulator environments,
    whose local state path follows the emulator port).

    Raises:
        spotkit.envs.SettingsError: unknown environment or placeholders left in its settings.
        TerraformFailed: Terraform exited non-zero.
    """
    with _terraform(env, "init") as (tf, e):
        _ensure_init(tf, e)


def _ensure_init(tf: Terraform, e: envs.Environment) -> None:
    code, _, _ = tf.init(reconfigure=IsFlagged if e.emulator else IsNotFlagged, no_color=_color(),
                         capture_output=False)
    _check(code, "init", e.name)


def plan(env: str = "local", variables: dict[str, str] | None = None) -> int:
    """``terraform plan -detailed-exitcode``; return 0 (no changes) or 2 (changes present).

    ``variables`` are extra ``-var`` values on top of the rendered tfvars.

    Raises:
        TerraformFailed: Terraform exited 1 (error).
    """
    with _terraform(env, "plan") as (tf, e):
        _ensure_init(tf, e)
        code, _, _ = tf.plan(var=variables or None, no_color=_color(), capture_output=False)
        return _check(code, "plan", env, ok=(0, 2))


class EmulatorDown(click.ClickException):
    """An emulator environment was asked for while the local emulator does not answer."""


def _require_emulator(e: envs.Environment) -> None:
    if not e.emulator:
        return
    from spotkit.aws import emulator_port
    from spotkit.emulator.cli import _responds

    port = emulator_port()
    if not _responds(port, timeout=3.0):
        raise EmulatorDown(f"environment {e.name!r} runs on the local emulator, which is not up on 127.0.0.1:{port}: "
                           "start it with `spotkit local up` (or `make local-up`)")


def plan_json(env: str = "local", variables: dict[str, str] | None = None) -> dict:
    """The plan of ``env`` as JSON: ``terraform plan -out=<file>`` (init first), then
    ``terraform show -json <file>``, in a temporary directory that is removed afterwards.

    Every value the plan knows is resolved there (module defaults, settings, ``optional()``
    attributes), unlike in the .tf source. Terraform's own output goes to standard error only when
    a step fails, so standard output stays free for reports.

    Returns:
        The plan document (``format_version``, ``planned_values``, ``resource_changes``,
        ``configuration``, ...; Terraform's "JSON Output Format").

    Raises:
        spotkit.envs.SettingsError: unknown environment, invalid settings, placeholders left.
        EmulatorDown: an emulator environment while the emulator does not answer.
        TerraformFailed: init, plan or show exited non-zero.
    """
    import tempfile

    e = envs.load_environment(env)
    _require_emulator(e)
    with _terraform(env, "plan") as (tf, e), tempfile.TemporaryDirectory(prefix="spotkit-plan-") as tmp:
        code, _, err = tf.init(reconfigure=IsFlagged if e.emulator else IsNotFlagged, no_color=IsFlagged,
                               capture_output=True)
        _check_quiet(code, err, "init", env)
        plan_file = str(Path(tmp) / "spotkit.tfplan")
        code, _, err = tf.plan(out=plan_file, var=variables or None, no_color=IsFlagged, capture_output=True)
        _check_quiet(code, err, "plan", env, ok=(0, 2))
        code, out, err = tf.cmd("show", plan_file, json=IsFlagged, no_color=IsFlagged)
        _check_quiet(code, err, "show", env)
        return json.loads(out)


def _check_quiet(code: int, err: str, command: str, env: str, ok=(0,)) -> None:
    if code not in ok:
        click.echo((err or "").rstrip(), err=True)
        raise TerraformFailed(command, env, code)


def apply(env: str = "local", variables: dict[str, str] | None = None) -> None:
    """``terraform apply -auto-approve`` (init first).

    Raises:
        TerraformFailed: Terraform exited non-zero.
    """
    with _terraform(env, "apply") as (tf, e):
        _ensure_init(tf, e)
        code, _, _ = tf.apply(skip_plan=True, var=variables or None, no_color=_color(), capture_output=False)
        _check(code, "apply", env)


def destroy(env: str = "local", variables: dict[str, str] | None = None,
            i_know_this_is_prod: bool = False) -> None:
    """``terraform destroy -auto-approve`` (init first). Refuses ``prod`` unless
    ``i_know_this_is_prod``.

    Raises:
        click.UsageError: ``env`` is prod without the confirmation flag.
        TerraformFailed: Terraform exited non-zero.
    """
    if env == "prod" and not i_know_this_is_prod:
        raise click.UsageError("refusing to destroy prod without --i-know-this-is-prod")
    with _terraform(env, "destroy") as (tf, e):
        _ensure_init(tf, e)
        code, _, _ = tf.destroy(force=IsNotFlagged, auto_approve=True, var=variables or None,
                                no_color=_color(), capture_output=False)
        _check(code, "destroy", env)


def _output_json(env: str) -> str:
    """Raw ``terraform output -json`` of ``env`` (initialising an emulator root quietly if needed)."""
    with _terraform(env, "output") as (tf, e):
        if e.emulator and not Path(os.environ["TF_DATA_DIR"]).exists():
            code, _, err = tf.init(reconfigure=IsFlagged, no_color=IsFlagged, capture_output=True)
            if code != 0:
                click.echo(err, err=True, nl=False)
                raise TerraformFailed("init", env, code)
        code, out, err = tf.output_cmd(json=IsFlagged, no_color=IsFlagged)
        if code != 0:
            click.echo(err, err=True, nl=False)
            raise TerraformFailed("output", env, code)
        return out or "{}"


def outputs(env: str = "local") -> dict:
    """Root outputs of ``env`` as ``{name: value}`` (from ``terraform output -json``).

    Empty when nothing was applied yet.

    Raises:
        TerraformFailed: Terraform exited non-zero (e.g. the root was never initialised).
    """
    return {name: meta.get("value") for name, meta in json.loads(_output_json(env)).items()}


# --------------------------------------------------------------------------------------------- CLI

_env_option = click.option("--env", "env_name", default="local", show_default=True,
                           help="Environment name from settings.yaml.")
_var_option = click.option("--var", "var_pairs", multiple=True, metavar="NAME=VALUE",
                           help="Extra Terraform variable (string), e.g. lambda_zip_path=/tmp/x.zip.")


def _vars(pairs) -> dict[str, str] | None:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--var")
        k, v = pair.split("=", 1)
        out[k] = v
    return out or None


class _TerraformGroup(click.Group):
    """For every subcommand: a :class:`TerraformFailed` shows Terraform's output and exits with its
    exit code, instead of a Python traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TerraformFailed as exc:
            exc.show()
            sys.exit(exc.exit_code)


@click.group("tf", cls=_TerraformGroup)
def tf_group():
    """Run Terraform for an environment (renders terraform/<env>/ from settings.yaml first)."""


@tf_group.command("init")
@_env_option
def init_cmd(env_name: str) -> None:
    """terraform init."""
    init(env_name)


@tf_group.command("plan")
@_env_option
@_var_option
def plan_cmd(env_name: str, var_pairs) -> None:
    """terraform plan; exit code 0 = no changes, 2 = changes present."""
    sys.exit(plan(env_name, _vars(var_pairs)))


@tf_group.command("apply")
@_env_option
@_var_option
def apply_cmd(env_name: str, var_pairs) -> None:
    """terraform apply -auto-approve."""
    apply(env_name, _vars(var_pairs))


@tf_group.command("destroy")
@_env_option
@_var_option
@click.option("--i-know-this-is-prod", is_flag=True, help="Required to destroy the prod environment.")
def destroy_cmd(env_name: str, var_pairs, i_know_this_is_prod: bool) -> None:
    """terraform destroy -auto-approve."""
    destroy(env_name, _vars(var_pairs), i_know_this_is_prod=i_know_this_is_prod)


@tf_group.command("outputs")
@_env_option
def outputs_cmd(env_name: str) -> None:
    """Print `terraform output -json` ({name: {value, type, sensitive}})."""
    click.echo(_output_json(env_name).rstrip())


tf_group.add_command(outputs_cmd, "output")
