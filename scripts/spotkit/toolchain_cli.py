"""``spotkit setup``: the click front of :mod:`spotkit.toolchain` (and :mod:`spotkit.gotools`)."""

from __future__ import annotations

import click

from spotkit import toolchain


@click.command("setup")
@click.option("--lint-tools", "lint_tools", is_flag=True,
              help="Also build tflint, tflint-ruleset-aws, terraform-docs and actionlint from the Go module proxy "
                   "(pinned versions, cached in ~/.cache/spotkit/<tool>/<version>/, linked into .tools/bin).")
@click.option("--only", "only", multiple=True, metavar="TOOL",
              help="With --lint-tools: build just this tool (repeatable).")
def setup_cmd(lint_tools, only):
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
    for key, value in exports.items():
        click.echo(f"export {key}={value}")
