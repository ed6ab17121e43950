"""``spotkit setup``: the click front of :mod:`spotkit.toolchain`."""

from __future__ import annotations

import click

from spotkit import toolchain


@click.command("setup")
def setup_cmd():
    """Install Terraform (if PATH has none >= 1.0) and the hashicorp/aws provider mirror.

    Idempotent: a second run does nothing. Set SPOTKIT_PROVIDER_SOURCE=registry to let Terraform
    download providers itself, SPOTKIT_TERRAFORM=/path/to/terraform to pick a binary.
    Prints `export` lines for your shell.
    """
    try:
        tc = toolchain.ensure()
    except toolchain.ToolchainError as exc:
        raise click.ClickException(str(exc)) from exc
    for key, value in tc.env().items():
        click.echo(f"export {key}={value}")
