"""``spotkit setup``: the click front of :mod:`spotkit.toolchain`

Also :mod:`spotkit.gotools` (--lint-tools) and :mod:`spotkit.scantools` (--scan-tools).
"""

from __future__ import annotations

import click

from spotkit import toolchain


@click.command("setup")
@click.option("--lint-tools", "lint_tools", is_flag=True,
              help="Also build tflint, tflint-ruleset-aws, terraform-docs and actionlint from the Go module proxy "
                   "(pinned versions, cached in ~/.cache/spotkit/<tool>/<version>/, linked into .tools/bin).")
@click.option("--only", "only", multiple=True, metavar="TOOL",
              help="With --lint-tools: build just this tool (repeatable).")
@click.option("--scan-tools", "scan_tools", is_flag=True,
              help="Also install checkov (for spotkit scan) into a tool venv of its own, cached in "
                   "~/.cache/spotkit/checkov/<version>/ (SPOTKIT_CHECKOV=/path/to/checkov uses yours instead).")
def setup_cmd(lint_tools, only, scan_tools):
    """Find Terraform and hashicorp/aws for the modules (Terraform >= 1.5, hashicorp/aws >= 5.77.0, < 7.0).

    Terraform: SPOTKIT_TERRAFORM, else the one on PATH when >= 1.5, else Terraform 1.5.7 built with
    your `go` from the Go module proxy into ~/.cache/spotkit/terraform/ (about 2 minutes, once).

    hashicorp/aws: SPOTKIT_PROVIDER_SOURCE=registry lets Terraform download it from
    registry.terraform.io; otherwise a filesystem mirror holding it (SPOTKIT_PROVIDER_MIRROR=DIR,
    else /opt/tf-plugins if present) is written into .tools/terraformrc. Neither: one message says
    what to do.

    Idempotent: a second run changes nothing. Prints `export` lines for your shell.
    """
    try:
        tc = toolchain.ensure()
    except toolchain.ToolchainError as exc:
        raise click.ClickException(str(exc)) from exc
    exports = dict(tc.env())
    if lint_tools:
        from spotkit import gotools

        try:
            gotools.ensure(only or None)
        except gotools.GoToolError as exc:
            raise click.ClickException(str(exc)) from exc
        exports.update(gotools.env())
    if scan_tools:
        from spotkit import scantools

        try:
            scantools.ensure()
        except scantools.ScanToolError as exc:
            raise click.ClickException(str(exc)) from exc
    for key, value in exports.items():
        click.echo(f"export {key}={value}")
