"""``terminate-instance``: EC2 TerminateInstances on the chosen instances — the blunt fallback.

No warning, no rebalance recommendation: the instances go away as on a Spot reclaim whose two-minute
notice nobody read, and Batch ends their attempts ``Host EC2 (instance i-…) terminated.``. There is
nothing to undo: the compute environment's Spot Fleet or Auto Scaling group replaces the capacity.
Works on any EC2-backed compute environment (not Fargate).
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_TerminateInstances.html)
"""

from __future__ import annotations

from spotkit.chaos.methods import choose_targets, runner_watched_alarm  # noqa: F401  (module interface)
from spotkit.chaos.probes import BACKEND_FARGATE, BACKEND_NONE

NAME = "terminate-instance"
SUMMARY = "EC2 TerminateInstances on the chosen instances (no warning; the blunt fallback)"
FIS_STOP_CONDITION = False
UNDO: dict = {}

stop_condition = runner_watched_alarm


def refusal(ce, outputs, config) -> str | None:
    if ce.backend == BACKEND_FARGATE:
        return f"compute environment {ce.name} is {ce.resource_type}: Fargate has no EC2 instances to terminate"
    if ce.backend == BACKEND_NONE:
        return f"compute environment {ce.name} is UNMANAGED: its instances are yours, spotkit does not terminate them"
    return None


def plan(ctx) -> dict:
    return {"actions": ["ec2:TerminateInstances on the targets"],
            "rollbacks": [f"none: the compute environment's {ctx.ce.backend} replaces the capacity"]}


def expected_delay(ctx) -> float:
    return 0.0


def inject(ctx, targets: list) -> dict:
    ctx.state.set_phase("terminating", targets=list(targets))
    resp = ctx.client("ec2").terminate_instances(InstanceIds=list(targets))
    ctx.state.set_phase("terminated")
    return {"terminating": [i["InstanceId"] for i in resp.get("TerminatingInstances", [])]}


def observe(ctx) -> None:
    return None


def on_interrupted(ctx) -> None:
    return None
