"""The ``spotkit`` command. Every subcommand explains itself with ``--help``."""

from __future__ import annotations

import importlib
import sys

import click

# name -> "module:attribute" of a click command/group; imported only when used so that
# `spotkit --help` stays fast and a missing optional dependency only breaks its own command.
_SUBCOMMANDS = {
    "setup": ("spotkit.toolchain_cli:setup_cmd",
              "Install Terraform and the hashicorp/aws provider mirror under .tools/."),
    "local": ("spotkit.emulator.cli:local_group", "Start, stop and inspect the local AWS emulator (test stage)."),
    "env": ("spotkit.envs:env_group", "Render terraform/<env>/ from settings.yaml."),
    "tf": ("spotkit.tf:tf_group", "Run terraform init/plan/apply/destroy/output for an environment."),
    "package": ("spotkit.package:package_cmd", "Build deterministic Lambda zips from functions/ into build/."),
    "chaos": ("spotkit.chaos.cli:chaos_group", "Spot capacity-cut experiment and its rollback."),
    "bench": ("spotkit.bench.cli:bench_cmd",
              "Benchmarks on the local emulator: burst, array regrouping, API calls, cold import."),
    "scan": ("spotkit.scan:scan_cmd",
             "checkov over the kit's Terraform (or PATH ...), offline, with spotkit's Spot policies."),
    "provider-check": ("spotkit.provider_check:provider_check_cmd",
                       "Check the Terraform against the hashicorp/aws 6.x (or real 5.100.0) schema, offline."),
    "classify": ("spotkit.classify_cli:classify_cmd",
                 "Would a job failed with this statusReason be resubmitted? (decision + matched glob)"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(_SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in _SUBCOMMANDS:
            return None
        target, _ = _SUBCOMMANDS[name]
        mod, attr = target.split(":")
        cmd = getattr(importlib.import_module(mod), attr)
        return cmd

    def format_commands(self, ctx, formatter):
        rows = [(name, _SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="spotkit")
def main():
    """spotkit: AWS Batch on EC2 Spot whose jobs come back by themselves.

    Typical flow on the local emulator: `spotkit setup`, `spotkit local up`, `spotkit package`,
    `spotkit tf apply --env local`, `spotkit chaos spot --env local` (or just `make chaos-spot`).
    """


if __name__ == "__main__":
    sys.exit(main())
