"""``spotkit chaos``: the Spot capacity-cut experiment and its rollback.

Exit codes of ``spotkit chaos spot``: 0 PASS; 1 FAIL (capacity restored); 2 refused before
changing anything (usage); 3 FAIL and the Spot Fleet capacity could NOT be restored (run
``spotkit chaos rollback``); 130 interrupted (after rollbacks ran).
"""

from __future__ import annotations

import sys

import click
from rich.console import Console

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_RESTORED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@click.group("chaos")
def chaos_group():
    """Spot capacity-cut experiment (`spot`) and its crash recovery (`rollback`)."""


@chaos_group.command("spot")
@click.option("--env", default="local", show_default=True, help="spotkit environment (settings.yaml).")
@click.option(
    "--job-id", default=None, help="Adopt this RUNNABLE/RUNNING job instead of submitting a probe job."
)
@click.option(
    "--native-retry",
    is_flag=True,
    help="Prove the job definition's retryStrategy (same job, new attempt) instead of the Lambda.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300,
    show_default=True,
    help="Seconds allowed for each wait.",
)
@click.option(
    "--probe-seconds",
    type=click.IntRange(min=1),
    default=900,
    show_default=True,
    help="How long the probe job sleeps (seconds).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="Seconds between polls.",
)
@click.option("--keep-jobs", is_flag=True, help="Do not terminate the probe jobs at the end.")
@click.option(
    "--i-know-this-is-prod",
    "i_know_this_is_prod",
    is_flag=True,
    help="Required with --env prod: the cut terminates EVERY instance of the Spot Fleet request.",
)
def spot_cmd(
    env, job_id, native_retry, timeout, probe_seconds, poll_interval, keep_jobs, i_know_this_is_prod
):
    """Cut the Spot Fleet target capacity under a running job; prove the job comes back.

    Steady-state hypothesis: job queue and compute environment VALID/ENABLED. Method: probe job
    RUNNING -> TargetCapacity 0 -> statusReason 'Host EC2 (instance i-...) terminated.' -> capacity
    restored -> a resubmitted job (or, with --native-retry, a new attempt) RUNNING. Rollbacks run on
    every exit path. Writes reports/chaos-latest.json (and a copy per run id).

    \b
    Exit codes: 0 PASS; 1 FAIL (capacity restored); 2 refused before any change;
    3 FAIL with the Spot Fleet capacity NOT restored (run `spotkit chaos rollback`);
    130 interrupted (rollbacks ran).
    """
    from spotkit.chaos.experiment import ChaosUsageError, ExperimentConfig, SpotExperiment
    from spotkit.chaos.report import render_summary
    from spotkit.chaos.state import StateFileError

    console = Console(stderr=True)
    cfg = ExperimentConfig(
        env=env,
        job_id=job_id,
        native_retry=native_retry,
        timeout=timeout,
        probe_seconds=probe_seconds,
        poll_interval=poll_interval,
        keep_jobs=keep_jobs,
        i_know_this_is_prod=i_know_this_is_prod,
    )
    try:
        report = SpotExperiment(cfg, console=console).run()
    except (ChaosUsageError, StateFileError) as exc:
        raise click.UsageError(str(exc)) from None
    render_summary(report, console)
    if report.get("capacity_restored") is False:
        sys.exit(EXIT_NOT_RESTORED)
    if report.get("interrupted"):
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_PASS if report.get("passed") else EXIT_FAIL)


@chaos_group.command("rollback")
@click.option("--env", default=None, help="Only roll back if the state file is for this environment.")
@click.option("--keep-jobs", is_flag=True, help="Do not terminate the probe jobs recorded in the state file.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120,
    show_default=True,
    help="Seconds to keep retrying ModifySpotFleetRequest.",
)
def rollback_cmd(env, keep_jobs, timeout):
    """Restore the Spot Fleet target capacity saved by a crashed `chaos spot` run. Idempotent."""
    from spotkit.chaos.rollback import FAILED, NOTHING, RollbackEnvMismatch, rollback
    from spotkit.chaos.state import StateFileError

    console = Console(stderr=True)
    try:
        result = rollback(env, keep_jobs=keep_jobs, timeout=timeout)
    except (RollbackEnvMismatch, StateFileError) as exc:
        raise click.UsageError(str(exc)) from None
    if result["status"] == NOTHING:
        console.print("nothing to roll back")
        return
    st = result["state"]
    where = f"Spot Fleet request {st['fleet_request_id']} (env {st['env']}, run {st['run_id']})"
    if result["status"] == FAILED:
        console.print(
            f"[bold red]rollback FAILED[/bold red] for {where}: {result['detail']}; state file kept"
        )
        sys.exit(EXIT_FAIL)
    if result["status"] == "fleet-gone":
        console.print(f"[yellow]{where} no longer exists; nothing to restore[/yellow]; state file removed")
    else:
        console.print(
            f"[green]TargetCapacity {st['original_target_capacity']} on {where}: {result['detail']}[/green]"
        )
    if result["jobs_terminated"]:
        console.print(f"terminated probe job(s): {', '.join(result['jobs_terminated'])}")
