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
    """Install Terraform (if PATH has none >= 1.0) and the hashicorp/aws provider mirror.

    Idempotent: a second run does nothing. Set SPOTKIT_PROVIDER_SOURCE=registry to let Terraform
    download providers itself, SPOTKIT_TERRAFORM=/path/to/terraform to pick a binary.
    Prints `export` lines for your shell.
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
