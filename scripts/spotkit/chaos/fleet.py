"""The Spot Fleet behind a BEST_FIT Spot compute environment: lookup, capacity cut and restore
(used by the ``fleet-capacity`` method, :mod:`spotkit.chaos.methods.fleet_capacity`).

The job -> container instance -> EC2 instance probes live in :mod:`spotkit.chaos.probes` (re-exported
here for existing callers). Every call is a public AWS API made through boto3 clients:

* EC2 ``DescribeInstances`` -> tag ``aws:ec2spot:fleet-request-id``, which Spot Fleet adds to the
  instances it launches; falling back to ``DescribeSpotFleetInstances`` over the active requests
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSpotFleetInstances.html)
* EC2 ``DescribeSpotFleetRequests`` / ``ModifySpotFleetRequest`` for the target capacity; only
  requests of type ``maintain`` (the default) can be modified
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySpotFleetRequest.html,
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SpotFleetRequestConfigData.html)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from botocore.exceptions import ClientError

from spotkit.chaos.probes import (  # noqa: F401  (re-exported: tests and older callers import them here)
    HostLookupError,
    _paginate,
    container_instance_arn,
    ecs_cluster_arns,
    instance_of_job,
)

FLEET_TAG = "aws:ec2spot:fleet-request-id"
ASG_TAG = "aws:autoscaling:groupName"
#: Spot Fleet request states in which the request still owns running instances and can be modified.
ACTIVE_FLEET_STATES = ("submitted", "active", "modifying")


class FleetLookupError(HostLookupError):
    """The job's host, or the Spot Fleet request behind it, cannot be found or cannot be modified."""


@dataclass
class FleetInfo:
    """A Spot Fleet request as the experiment needs it."""

    fleet_request_id: str
    target_capacity: int
    fleet_type: str  # "maintain" | "request" | "instant"
    state: str  # SpotFleetRequestState, e.g. "active"
    found_by: str  # "tag" | "describe_spot_fleet_instances"


def describe_fleet(ec2, fleet_request_id: str) -> dict | None:
    """The ``SpotFleetRequestConfigs`` entry of one request, or None when it does not exist."""
    try:
        resp = ec2.describe_spot_fleet_requests(SpotFleetRequestIds=[fleet_request_id])
    except ClientError as exc:
        if "NotFound" in exc.response.get("Error", {}).get("Code", ""):
            return None
        raise
    for cfg in resp.get("SpotFleetRequestConfigs", []):
        if cfg.get("SpotFleetRequestId") == fleet_request_id:
            return cfg
    return None


def target_capacity(ec2, fleet_request_id: str) -> int | None:
    """The request's current TargetCapacity (units of capacity, usually instances or vCPUs)."""
    cfg = describe_fleet(ec2, fleet_request_id)
    if cfg is None:
        return None
    return int(cfg["SpotFleetRequestConfig"]["TargetCapacity"])


def fleet_of_instance(ec2, instance_id: str) -> FleetInfo:
    """The modifiable Spot Fleet request that launched ``instance_id``.

    Looks for the ``aws:ec2spot:fleet-request-id`` tag first, then scans DescribeSpotFleetInstances
    over the requests in an active state.

    Raises:
        FleetLookupError: the instance is in no Spot Fleet request (e.g. an Auto Scaling group
            backs the compute environment), or the request is not of type ``maintain``.
    """
    resp = ec2.describe_instances(InstanceIds=[instance_id])
    instances = [i for r in resp.get("Reservations", []) for i in r.get("Instances", [])]
    if not instances:
        raise FleetLookupError(f"instance {instance_id} not found")
    tags = {t["Key"]: t["Value"] for t in instances[0].get("Tags") or []}
    fleet_id, found_by = tags.get(FLEET_TAG), "tag"
    if not fleet_id:
        found_by = "describe_spot_fleet_instances"
        for cfg in _paginate(ec2, "describe_spot_fleet_requests", "SpotFleetRequestConfigs"):
            if cfg.get("SpotFleetRequestState") not in ACTIVE_FLEET_STATES:
                continue
            sfr = cfg["SpotFleetRequestId"]
            members = _paginate(
                ec2, "describe_spot_fleet_instances", "ActiveInstances", SpotFleetRequestId=sfr
            )
            if any(m.get("InstanceId") == instance_id for m in members):
                fleet_id = sfr
                break
    if not fleet_id:
        hint = ""
        if tags.get(ASG_TAG):
            hint = (
                f"; it belongs to Auto Scaling group {tags[ASG_TAG]!r} (Batch uses Auto Scaling groups for "
                "allocation strategies other than BEST_FIT), which this experiment does not cut"
            )
        raise FleetLookupError(f"instance {instance_id} belongs to no active Spot Fleet request{hint}")
    cfg = describe_fleet(ec2, fleet_id)
    if cfg is None:
        raise FleetLookupError(f"Spot Fleet request {fleet_id} (from instance {instance_id}) does not exist")
    data = cfg.get("SpotFleetRequestConfig", {})
    # SpotFleetRequestConfigData.Type defaults to "maintain" when it was not given.
    info = FleetInfo(
        fleet_request_id=fleet_id,
        target_capacity=int(data.get("TargetCapacity", 0)),
        fleet_type=data.get("Type") or "maintain",
        state=cfg.get("SpotFleetRequestState", "unknown"),
        found_by=found_by,
    )
    if info.fleet_type != "maintain":
        raise FleetLookupError(
            f"Spot Fleet request {fleet_id} is of type {info.fleet_type!r}; only 'maintain' requests can "
            "have their target capacity modified"
        )
    if info.state not in ACTIVE_FLEET_STATES:
        raise FleetLookupError(f"Spot Fleet request {fleet_id} is {info.state}; it cannot be modified")
    if info.target_capacity <= 0:
        raise FleetLookupError(f"Spot Fleet request {fleet_id} already has TargetCapacity 0")
    return info


def fleet_instances(ec2, fleet_request_id: str) -> list:
    """Instance ids currently active in the request (the blast radius of a cut)."""
    return [
        m["InstanceId"]
        for m in _paginate(
            ec2, "describe_spot_fleet_instances", "ActiveInstances", SpotFleetRequestId=fleet_request_id
        )
    ]


def cut_capacity(ec2, fleet_request_id: str) -> None:
    """The action: ModifySpotFleetRequest TargetCapacity=0.

    The request's ExcessCapacityTerminationPolicy is left as configured (``default`` terminates the
    surplus instances, which is what the experiment needs; each gets a Spot interruption notice).
    """
    ec2.modify_spot_fleet_request(SpotFleetRequestId=fleet_request_id, TargetCapacity=0)


@dataclass
class RestoreResult:
    """Outcome of :func:`restore_capacity`."""

    restored: bool  # DescribeSpotFleetRequests shows the wanted TargetCapacity
    detail: str  # "restored" | "already at target" | "fleet request gone" | error text
    target_capacity: int | None = None  # as last described


def restore_capacity(
    ec2,
    fleet_request_id: str,
    capacity: int,
    *,
    timeout: float = 120.0,
    poll_interval: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RestoreResult:
    """The undo: set the request's TargetCapacity back to ``capacity``. Idempotent.

    Retries ModifySpotFleetRequest for up to ``timeout`` seconds (a request that is still
    ``modifying`` after the cut may refuse a second modification), then checks with
    DescribeSpotFleetRequests. A request that no longer exists (or was cancelled) cannot be restored:
    ``restored`` is False with detail ``fleet request gone``.
    """
    deadline = clock() + timeout
    last_error = ""
    attempted = False
    while True:
        cfg = describe_fleet(ec2, fleet_request_id)
        if cfg is None or str(cfg.get("SpotFleetRequestState", "")).startswith("cancelled"):
            return RestoreResult(False, "fleet request gone")
        current = int(cfg["SpotFleetRequestConfig"]["TargetCapacity"])
        if current == capacity:
            return RestoreResult(True, "restored" if attempted else "already at target", current)
        attempted = True
        try:
            ec2.modify_spot_fleet_request(SpotFleetRequestId=fleet_request_id, TargetCapacity=capacity)
        except ClientError as exc:
            last_error = (
                f"{exc.response.get('Error', {}).get('Code')}: {exc.response.get('Error', {}).get('Message')}"
            )
        else:
            current = target_capacity(ec2, fleet_request_id)
            if current == capacity:
                return RestoreResult(True, "restored", current)
            last_error = f"TargetCapacity is {current} after ModifySpotFleetRequest"
        if clock() >= deadline:
            return RestoreResult(False, f"not restored after {timeout:g} s: {last_error}", current)
        sleep(poll_interval)
