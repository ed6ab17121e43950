"""``fleet-capacity``: cut the Spot Fleet's TargetCapacity to 0 under the probe jobs; undo = restore it.

Only for BEST_FIT (or unset) Spot compute environments: Batch uses a Spot Fleet for those alone, and
every other allocation strategy is backed by Batch-managed Auto Scaling groups, which AWS warns not
to modify by hand ("may result in ... INVALID Compute Environment",
https://docs.aws.amazon.com/batch/latest/userguide/managed_compute_environments.html). The cut hits
EVERY instance of the request (each gets a Spot interruption notice); only ``maintain`` requests can
be modified (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySpotFleetRequest.html).
The capacity is restored as soon as every target is gone, so the recovered jobs find hosts.
"""

from __future__ import annotations

from spotkit.chaos import fleet as fleetlib
from spotkit.chaos import state as statelib
from spotkit.chaos.errors import ExperimentFailed
from spotkit.chaos.methods import runner_watched_alarm
from spotkit.chaos.probes import BACKEND_SPOT_FLEET

NAME = "fleet-capacity"
SUMMARY = "ModifySpotFleetRequest TargetCapacity 0 on the BEST_FIT Spot Fleet (undo: restore it)"
FIS_STOP_CONDITION = False

stop_condition = runner_watched_alarm


def refusal(ce, outputs, config) -> str | None:
    if ce.backend != BACKEND_SPOT_FLEET:
        return (f"--method fleet-capacity needs a BEST_FIT Spot compute environment (the only kind Batch "
                f"backs with a Spot Fleet); {ce.name} is {ce.resource_type or 'UNMANAGED'} with allocation "
                f"strategy {ce.allocation_strategy or 'BEST_FIT'}, backed by {ce.backend}, which AWS says "
                "not to modify by hand. Use --method fis-spot-interruption (or terminate-instance)")
    if config.instances is not None or (config.percent is not None and config.percent < 100):
        return ("--method fleet-capacity cuts the whole Spot Fleet request (every instance); "
                "--instances/--percent cannot narrow it: drop them or use another method")
    return None


def plan(ctx) -> dict:
    return {"targets": "every active instance of the Spot Fleet request under the first probe job",
            "actions": ["ec2:ModifySpotFleetRequest TargetCapacity -> 0"],
            "rollbacks": ["ec2:ModifySpotFleetRequest TargetCapacity -> its original value (as soon as every "
                          "target is gone, and on every exit path)"]}


def expected_delay(ctx) -> float:
    return 0.0


def choose_targets(ctx, candidates: list, preferred: list, count: int) -> list:
    """Every active instance of the Spot Fleet request behind the first preferred instance.

    Raises:
        ExperimentFailed: that instance is in no modifiable Spot Fleet request.
    """
    ec2 = ctx.client("ec2")
    first = (preferred or [c.instance_id for c in candidates] or [None])[0]
    if first is None:
        raise ExperimentFailed(f"compute environment {ctx.ce.name} has no running instance")
    try:
        info = fleetlib.fleet_of_instance(ec2, first)
    except fleetlib.FleetLookupError as exc:
        raise ExperimentFailed(str(exc)) from None
    ctx.data["fleet"] = info
    members = fleetlib.fleet_instances(ec2, info.fleet_request_id)
    ctx.journal.log(f"Spot Fleet request {info.fleet_request_id} (TargetCapacity {info.target_capacity}, "
                    f"{len(members)} active instance(s), found by {info.found_by}) is under {first}")
    return members


def inject(ctx, targets: list) -> dict:
    info = ctx.data["fleet"]
    compat = {"fleet_request_id": info.fleet_request_id, "original_target_capacity": info.target_capacity}
    ctx.state.state.phase = statelib.PHASE_PENDING
    ctx.state.state.extra.update(compat)
    ctx.data["undo"] = ctx.state.add_undo(statelib.UNDO_RESTORE_FLEET, fleet_request_id=info.fleet_request_id,
                                          target_capacity=info.target_capacity)
    fleetlib.cut_capacity(ctx.client("ec2"), info.fleet_request_id)
    ctx.state.set_phase(statelib.PHASE_CUT, cut_at=statelib.utcnow())
    ctx.journal.log(f"action: TargetCapacity {info.target_capacity} -> 0 on {info.fleet_request_id}", "bold yellow")
    return compat


def observe(ctx) -> None:
    return None


def on_interrupted(ctx) -> None:
    """Restore the capacity now (the undo, early) so the recovered jobs find hosts."""
    entry = ctx.data.get("undo")
    if not entry or entry.get("done"):
        return
    ok, detail = restore(entry, ctx.client, timeout=min(ctx.config.timeout, 120.0),
                         poll_interval=ctx.config.poll_interval, clock=ctx.clock, sleep=ctx.sleep)
    ctx.journal.rollback(statelib.UNDO_RESTORE_FLEET, "succeeded" if ok else "failed", detail)
    if ok:
        ctx.state.update(entry, done=True)
        ctx.state.set_phase(statelib.PHASE_RESTORED)


def restore(entry: dict, client, *, timeout: float = 120.0, poll_interval: float = 2.0, clock=None,
            sleep=None) -> tuple:
    """Undo ``restore-fleet-capacity``: TargetCapacity back to ``entry["target_capacity"]``. Idempotent;
    a request that no longer exists counts as undone (nothing left to restore)."""
    kw = {k: v for k, v in (("clock", clock), ("sleep", sleep)) if v is not None}
    res = fleetlib.restore_capacity(client("ec2"), entry["fleet_request_id"], int(entry["target_capacity"]),
                                    timeout=timeout, poll_interval=poll_interval, **kw)
    if res.detail == "fleet request gone":
        return True, f"Spot Fleet request {entry['fleet_request_id']} no longer exists; nothing to restore"
    return res.restored, f"TargetCapacity {entry['target_capacity']} on {entry['fleet_request_id']}: {res.detail}"


UNDO = {statelib.UNDO_RESTORE_FLEET: restore}
