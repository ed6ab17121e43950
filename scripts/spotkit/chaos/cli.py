"""``spotkit chaos``: interrupt Spot capacity under running jobs, prove they come back; and the rollback.

Exit codes of ``spotkit chaos spot``: 0 PASS (or a dry run with no refusal); 1 FAIL (everything
rolled back); 2 refused before changing anything (usage); 3 FAIL and a rollback could NOT be applied
(run ``spotkit chaos rollback``); 130 interrupted (after rollbacks ran).
"""

from __future__ import annotations

import sys

import click
from rich.console import Console

from spotkit.chaos import methods

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_RESTORED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@click.group("chaos")
def chaos_group():
    """Spot interruption experiment (`spot`) and its crash recovery (`rollback`)."""


@chaos_group.command("spot")
@click.option("--env", default="local", show_default=True, help="spotkit environment (settings.yaml).")
@click.option(
    "--method",
    type=click.Choice(methods.names()),
    default=None,
    help="How to interrupt: fis-spot-interruption (AWS FIS Spot interruption: warning, then interruption; "
    "the default for every Spot compute environment), fleet-capacity (Spot Fleet TargetCapacity 0, "
    "BEST_FIT compute environments only) or terminate-instance (EC2 TerminateInstances, no warning).",
)
@click.option(
    "--instances",
    type=click.IntRange(min=1),
    default=None,
    help="Interrupt this many of the compute environment's opted-in running instances, those under the "
    "probe jobs first. Default 1.",
)
@click.option(
    "--percent",
    type=click.FloatRange(min=0, min_open=True, max=100),
    default=None,
    help="Interrupt this percentage (rounded up, at least one) of the opted-in running instances "
    "instead of --instances.",
)
@click.option("--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Number of plain probe jobs to submit.")
@click.option("--array-size", type=click.IntRange(min=0, max=10000), default=0, show_default=True,
              help="Also submit one array probe job of this many children (2..10000; 0: none).")
@click.option(
    "--job-id", default=None,
    help="Adopt this RUNNABLE/RUNNING job instead of submitting probe jobs, whoever submitted it: the run follows "
    "it to its own job queue, compute environment and EC2 instance (read from AWS) and interrupts that instance; "
    "refused (exit 2) when that cannot be done safely or its recovery cannot be proven (docs/chaos.md).",
)
@click.option(
    "--native-retry",
    is_flag=True,
    help="Prove the job definition's retryStrategy (same job, new attempt) instead of the Lambda.",
)
@click.option("--timeout", type=click.FloatRange(min=1), default=300, show_default=True,
              help="Seconds allowed for each wait (the recovery wait adds the method's interruption delay).")
@click.option("--probe-seconds", type=click.IntRange(min=1), default=900, show_default=True,
              help="How long the probe jobs sleep (seconds).")
@click.option("--poll-interval", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              help="Seconds between polls.")
@click.option("--settle-seconds", type=click.FloatRange(min=0), default=10, show_default=True,
              help="Once every job is RUNNING again, keep polling this long for late duplicate resubmissions "
              "(an SQS redelivery); a duplicate seen fails the run. 10 s suits the emulator; in an AWS account "
              "full cover is the events queue's visibility timeout x maxReceiveCount (docs/chaos.md).")
@click.option("--keep-jobs", is_flag=True, help="Do not terminate the probe jobs (and their resubmissions) at the end.")
@click.option(
    "--i-know-this-is-prod",
    "i_know_this_is_prod",
    is_flag=True,
    help="Required with --env prod (which also needs a stop-condition alarm): every job on the "
    "interrupted instances is hit, not only the probe jobs.",
)
@click.option("--dry-run", is_flag=True,
              help="Print the plan (compute environment, method, targets, actions, rollbacks, checks) and change "
              "nothing: only Describe/List/Get calls.")
@click.option("--job-queue", default=None, metavar="NAME|ARN",
              help="Submit the probe jobs here instead of the environment's job_queue_arn output.")
@click.option("--job-definition", default=None, metavar="NAME|ARN",
              help="Probe job definition instead of the job_definition_arn output.")
@click.option("--compute-environment", default=None, metavar="NAME|ARN",
              help="The Spot compute environment to interrupt instead of the compute_environment_arn output. "
              "With --job-queue and --job-definition too, no spotkit Terraform outputs are needed.")
@click.option("--fis-template-id", default=None,
              help="The FIS experiment template to copy the role, action and stop conditions from, instead of "
              "the chaos_spot_interruption_template_id output.")
def spot_cmd(env, method, instances, percent, jobs, array_size, job_id, native_retry, timeout, probe_seconds,
             poll_interval, settle_seconds, keep_jobs, i_know_this_is_prod, dry_run, job_queue, job_definition,
             compute_environment, fis_template_id):
    """Interrupt Spot instances under running jobs; prove every job on them comes back exactly once.

    Steady-state hypothesis: job queue and compute environment VALID/ENABLED (and the resubmit function
    Active). Method: probe jobs RUNNING -> the chosen instances interrupted -> every job that ran on them
    fails 'Host EC2 (instance i-...) terminated.' -> resubmitted once (or, with --native-retry, a new
    attempt) -> RUNNING. Rollbacks run on every exit path; the state file lets `spotkit chaos rollback`
    finish them after a crash. Outside env local the compute environment must carry the tag
    spotkit:chaos=opt-in. Writes reports/chaos-latest.json, .xml (JUnit) and .html (a timeline),
    and a copy of each per run id.

    \b
    Exit codes: 0 PASS; 1 FAIL (rolled back); 2 refused before any change;
    3 FAIL with a rollback NOT applied (run `spotkit chaos rollback`); 130 interrupted (rollbacks ran).
    """
    from spotkit.chaos.config import ExperimentConfig
    from spotkit.chaos.errors import ChaosUsageError
    from spotkit.chaos.report import render_summary
    from spotkit.chaos.runner import Runner
    from spotkit.chaos.state import StateFileError

    console = Console(stderr=True)
    cfg = ExperimentConfig(env=env, method=method, instances=instances, percent=percent, jobs=jobs,
                           array_size=array_size, job_id=job_id, native_retry=native_retry, timeout=timeout,
                           probe_seconds=probe_seconds, poll_interval=poll_interval, settle_seconds=settle_seconds,
                           keep_jobs=keep_jobs,
                           i_know_this_is_prod=i_know_this_is_prod, dry_run=dry_run, job_queue=job_queue,
                           job_definition=job_definition, compute_environment=compute_environment,
                           fis_template_id=fis_template_id)
    try:
        report = Runner(cfg, console=console).run()
    except (ChaosUsageError, StateFileError) as exc:
        raise click.UsageError(str(exc)) from None
    if report.get("dry_run"):
        sys.exit(EXIT_USAGE if report["refusals"] else EXIT_PASS)
    render_summary(report, console)
    if report.get("capacity_restored") is False:
        sys.exit(EXIT_NOT_RESTORED)
    if report.get("interrupted"):
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_PASS if report.get("passed") else EXIT_FAIL)


@chaos_group.command("rollback")
@click.option("--env", default=None, help="Only roll back if the state file is for this environment.")
@click.option("--keep-jobs", is_flag=True, help="Do not terminate the probe jobs recorded in the state file.")
@click.option("--timeout", type=click.FloatRange(min=1), default=120, show_default=True,
              help="Seconds to keep retrying ModifySpotFleetRequest when restoring capacity.")
def rollback_cmd(env, keep_jobs, timeout):
    """Undo what a crashed `chaos spot` run left (stop its FIS experiment, delete its template, restore
    the Spot Fleet capacity, terminate its probe jobs), from the state file. Idempotent."""
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
    console.print(f"run {st['run_id']} (env {st['env']}, method {st.get('method') or '?'}, phase {st.get('phase')}):")
    for r in result["results"]:
        mark = "[green]ok[/green]" if r["ok"] else "[bold red]FAILED[/bold red]"
        console.print(f"  {r['kind']}: {mark} {r['detail']}")
    if result["status"] == FAILED:
        console.print("[bold red]rollback FAILED[/bold red]; state file kept: fix the cause and run it again")
        sys.exit(EXIT_FAIL)
    console.print("[green]rolled back[/green]; state file removed")
