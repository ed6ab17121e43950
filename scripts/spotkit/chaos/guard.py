"""The guard: the experiment refuses to run unless it is safe by design.

* A leftover state file means an earlier run was not rolled back: ``spotkit chaos rollback`` first.
* Outside env ``local`` the compute environment must opt in with its resource tag
  ``spotkit:chaos`` = ``opt-in`` (or the ``chaos_opt_in_tag`` output); DescribeComputeEnvironments
  returns the tags (https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeEnvironmentDetail.html).
* ``prod`` needs ``--i-know-this-is-prod`` AND a stop-condition alarm: the FIS template's
  ``aws:cloudwatch:alarm`` stop condition, or for the other methods the
  ``chaos_stop_condition_alarm_arn`` output the runner watches between polls.
* The method must fit the compute environment (each method's ``refusal``).

Every check is read-only; :func:`preflight` makes no AWS call at all.
"""

from __future__ import annotations

from pathlib import Path

from spotkit.chaos import state as statelib

LOCAL_ENV = "local"
PROD_ENV = "prod"


def preflight(config, state_path: Path) -> list:
    """Problems found without calling AWS (a list of sentences; empty when none).

    Raises:
        spotkit.chaos.state.StateFileError: the state file exists but is unreadable.
    """
    problems = []
    existing = statelib.read_state(state_path)
    if existing is not None:
        problems.append(f"a previous experiment (run {existing.run_id}, env {existing.env}, phase {existing.phase}) "
                        f"left {state_path}; run `spotkit chaos rollback` first")
    if config.timeout <= 0 or config.poll_interval <= 0 or config.probe_seconds <= 0:
        problems.append("--timeout, --poll-interval and --probe-seconds must be positive")
    if getattr(config, "settle_seconds", 0) < 0:
        problems.append("--settle-seconds must not be negative")
    if config.instances is not None and config.percent is not None:
        problems.append("give --instances or --percent, not both")
    if config.instances is not None and config.instances < 1:
        problems.append("--instances must be at least 1")
    if config.percent is not None and not 0 < config.percent <= 100:
        problems.append("--percent must be in (0, 100]")
    if config.jobs < 0 or (config.array_size and config.array_size < 2):
        problems.append("--jobs must be >= 0 and --array-size 0 or 2..10000")
    if config.env == PROD_ENV and not config.i_know_this_is_prod:
        problems.append("refusing to interrupt Spot capacity in env 'prod' without --i-know-this-is-prod: every job "
                        "on the interrupted instances is hit, not only the probe jobs")
    return problems


def check(ctx, method) -> list:
    """Problems with the compute environment and method (read-only AWS calls through ``method``)."""
    problems = []
    key, value = ctx.outputs.chaos_opt_in_tag
    if ctx.config.env != LOCAL_ENV and not ctx.ce.opted_in(key, value):
        problems.append(f"compute environment {ctx.ce.name} has not opted in to chaos: tag it {key}={value} "
                        "(a compute environment resource tag) to allow experiments on it")
    refusal = method.refusal(ctx.ce, ctx.outputs, ctx.config)
    if refusal:
        problems.append(refusal)
    elif ctx.config.env == PROD_ENV and not method.stop_condition(ctx):
        where = ("the FIS template has no aws:cloudwatch:alarm stop condition" if method.FIS_STOP_CONDITION
                 else "the environment has no chaos_stop_condition_alarm_arn output")
        problems.append(f"refusing env 'prod' without a stop-condition alarm: {where}")
    return problems
