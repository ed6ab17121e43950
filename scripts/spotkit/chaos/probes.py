"""Read-only probes of the experiment: steady state, the compute environment's backend, and the
way from a Batch job to the EC2 instance under it.

Every call is a public Describe*/List*/Get* AWS API through boto3, so the same code works against
AWS and the local emulator, and ``--dry-run`` may call any of these:

* Batch ``DescribeJobQueues`` / ``DescribeComputeEnvironments`` (``status``, ``state``,
  ``computeResources.type``/``allocationStrategy``, ``tags``, ``ecsClusterArn``)
  (https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeComputeEnvironments.html)
* Batch ``DescribeJobs`` -> ``container.containerInstanceArn``
* ECS ``ListContainerInstances`` / ``DescribeContainerInstances`` -> ``ec2InstanceId``
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeContainerInstances.html)
* EC2 ``DescribeInstances`` (state, type, ``InstanceLifecycle``)
* Lambda ``GetFunction`` (``State``); CloudWatch ``DescribeAlarms`` (``StateValue``)
* EventBridge ``DescribeRule`` (``EventPattern``, ``State``) of the resubmit rule
  (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeRule.html)

Which backend Batch uses: a Spot Fleet only for a SPOT compute environment with BEST_FIT (or unset)
allocation strategy; Auto Scaling groups for BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED and
SPOT_PRICE_CAPACITY_OPTIMIZED (https://docs.aws.amazon.com/batch/latest/userguide/allocation-strategies.html,
https://docs.aws.amazon.com/batch/latest/userguide/managed_compute_environments.html).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

BACKEND_SPOT_FLEET = "spot-fleet"
BACKEND_AUTO_SCALING = "auto-scaling-group"
BACKEND_FARGATE = "fargate"
BACKEND_NONE = "none"  # UNMANAGED: instances the user runs

#: DescribeInstances states in which an instance counts as interrupted.
GONE_STATES = ("shutting-down", "terminated", "stopping", "stopped")


class HostLookupError(Exception):
    """A job's host cannot be found (no container instance yet, or no cluster knows it)."""


# ---------------------------------------------------------------------------- compute environment


@dataclass
class ComputeEnvironment:
    """A DescribeComputeEnvironments entry as the experiment needs it."""

    name: str
    arn: str
    status: str  # VALID | INVALID | CREATING ...
    state: str  # ENABLED | DISABLED
    resource_type: str  # SPOT | EC2 | FARGATE | FARGATE_SPOT | "" (UNMANAGED)
    allocation_strategy: str | None  # None when unset (Batch then uses BEST_FIT)
    ecs_cluster_arn: str | None
    tags: dict = field(default_factory=dict)

    @property
    def spot(self) -> bool:
        return self.resource_type == "SPOT"

    @property
    def backend(self) -> str:
        """``spot-fleet`` | ``auto-scaling-group`` | ``fargate`` | ``none``."""
        if self.resource_type.startswith("FARGATE"):
            return BACKEND_FARGATE
        if not self.resource_type:
            return BACKEND_NONE
        if self.spot and (self.allocation_strategy or "BEST_FIT") == "BEST_FIT":
            return BACKEND_SPOT_FLEET
        return BACKEND_AUTO_SCALING

    def opted_in(self, key: str, value: str) -> bool:
        return self.tags.get(key) == value

    def to_dict(self) -> dict:
        return {"name": self.name, "arn": self.arn, "status": self.status, "state": self.state,
                "type": self.resource_type, "allocation_strategy": self.allocation_strategy or "BEST_FIT",
                "backend": self.backend, "tags": dict(self.tags)}


def describe_compute_environment(batch, name_or_arn: str) -> ComputeEnvironment | None:
    """The compute environment ``name_or_arn``, or None when Batch does not know it."""
    ces = batch.describe_compute_environments(computeEnvironments=[name_or_arn]).get("computeEnvironments", [])
    if not ces:
        return None
    ce = ces[0]
    res = ce.get("computeResources") or {}
    return ComputeEnvironment(
        name=ce.get("computeEnvironmentName", ""), arn=ce.get("computeEnvironmentArn", ""),
        status=ce.get("status", ""), state=ce.get("state", ""), resource_type=res.get("type", ""),
        allocation_strategy=res.get("allocationStrategy"), ecs_cluster_arn=ce.get("ecsClusterArn"),
        tags=dict(ce.get("tags") or {}))


def job_queues_of(batch, ce_arn: str) -> list:
    """ARNs of the job queues that place jobs on the compute environment ``ce_arn``."""
    return [q["jobQueueArn"] for q in _paginate(batch, "describe_job_queues", "jobQueues")
            if any(c.get("computeEnvironment") == ce_arn for c in q.get("computeEnvironmentOrder") or [])]


# ---------------------------------------------------------------------------- steady state


def _probe(name: str, tolerance: str, value: str) -> dict:
    return {"name": name, "tolerance": tolerance, "value": value, "ok": value == tolerance}


def job_queue_valid_and_enabled(batch, queue: str) -> dict:
    """Probe ``{name, tolerance, value, ok}``: the job queue is VALID/ENABLED."""
    qs = batch.describe_job_queues(jobQueues=[queue]).get("jobQueues", [])
    value = f"{qs[0].get('status')}/{qs[0].get('state')}" if qs else "not found"
    return _probe("job-queue-valid-and-enabled", "VALID/ENABLED", value)


def compute_environment_valid_and_enabled(batch, ce: str) -> dict:
    """Probe: the compute environment is VALID/ENABLED."""
    found = describe_compute_environment(batch, ce)
    value = f"{found.status}/{found.state}" if found else "not found"
    return _probe("compute-environment-valid-and-enabled", "VALID/ENABLED", value)


def function_active(lambda_client, name: str) -> dict:
    """Probe: the resubmission function's ``State`` is Active (GetFunction)."""
    try:
        value = lambda_client.get_function(FunctionName=name)["Configuration"].get("State") or "Active"
    except ClientError as exc:
        value = exc.response.get("Error", {}).get("Code", "error")
    return _probe("resubmit-function-active", "Active", value)


def alarm_state(cloudwatch, alarm_arn: str) -> str | None:
    """``StateValue`` (OK | ALARM | INSUFFICIENT_DATA) of the alarm ``alarm_arn``
    (``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``), or None when it does not exist."""
    name = alarm_arn.split(":alarm:", 1)[-1]
    alarms = cloudwatch.describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
    return alarms[0].get("StateValue") if alarms else None


def resubmission_refusal(events, rule_name: str | None, queue_arn: str, kit_queues) -> str | None:
    """Why the kit's resubmission pipeline cannot be proven on jobs of ``queue_arn`` (None: it can).

    modules/spot-resubmit's rule (output ``resubmit_rule_name``) matches FAILED "Batch Job State
    Change" events of the queues listed in its pattern's ``detail.jobQueue`` (``restrict_to_job_queues``,
    the default), or of every queue without that key; either way the function's role may SubmitJob only
    to the module's ``job_queue_arns`` (+ the fallback queue), so without a ``detail.jobQueue`` filter
    only ``kit_queues`` (the outputs' queue ARNs) count. Without a rule name only ``kit_queues`` count.
    One sentence, ending with the way out (``--native-retry``).

    Raises:
        botocore.exceptions.ClientError: DescribeRule failed other than ResourceNotFoundException.
    """
    out = "its resubmission cannot be proven; pass --native-retry to prove the job definition's retryStrategy instead"
    kit = set(kit_queues or ())
    if not rule_name:
        if queue_arn in kit:
            return None
        return (f"job queue {queue_arn} is not one of the environment's queues and the environment has no "
                f"resubmit_rule_name output: {out}")
    try:
        rule = events.describe_rule(Name=rule_name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return f"the resubmit rule {rule_name} does not exist: {out}"
    if rule.get("State") != "ENABLED":
        return f"the resubmit rule {rule_name} is {rule.get('State')}: {out}"
    try:
        pattern = json.loads(rule.get("EventPattern") or "{}")
    except ValueError:
        pattern = {}
    listed = (pattern.get("detail") or {}).get("jobQueue")
    if listed is not None:
        if queue_arn in listed:
            return None
        return (f"the resubmit rule {rule_name} watches only job queue(s) {', '.join(listed)}, not {queue_arn}: {out}")
    if queue_arn in kit:
        return None
    return (f"the resubmit rule {rule_name} matches every queue, but the resubmit function may submit only to the "
            f"environment's queues, not {queue_arn}: {out}")


# ---------------------------------------------------------------------------- job -> instance


def container_instance_arn(job: dict) -> str | None:
    """The ECS container instance ARN of a Batch job's current attempt (None before STARTING)."""
    arn = (job.get("container") or {}).get("containerInstanceArn")
    if arn:
        return arn
    attempts = job.get("attempts") or []
    if attempts:
        return (attempts[-1].get("container") or {}).get("containerInstanceArn")
    return None


def ecs_cluster_arns(batch, compute_environments: Iterable[str]) -> list:
    """``ecsClusterArn`` of each compute environment (names or ARNs), in the order given."""
    envs = list(dict.fromkeys(compute_environments))
    if not envs:
        return []
    resp = batch.describe_compute_environments(computeEnvironments=envs)
    by_key = {}
    for ce in resp.get("computeEnvironments", []):
        by_key[ce.get("computeEnvironmentArn")] = ce.get("ecsClusterArn")
        by_key[ce.get("computeEnvironmentName")] = ce.get("ecsClusterArn")
    return [by_key[c] for c in envs if by_key.get(c)]


def instance_of_job(batch, ecs, job: dict, compute_environments: Iterable[str]) -> str:
    """The EC2 instance id running ``job`` (a DescribeJobs JobDetail).

    ``compute_environments`` are the candidates; the container instance is looked up in each one's
    ECS cluster.

    Raises:
        HostLookupError: the job has no container instance yet, or no cluster knows it.
    """
    ci_arn = container_instance_arn(job)
    if not ci_arn:
        raise HostLookupError(
            f"job {job.get('jobId')} ({job.get('status')}) has no container.containerInstanceArn; "
            "the backend did not place it on an ECS container instance (plain moto never does)"
        )
    clusters = ecs_cluster_arns(batch, compute_environments)
    for cluster in clusters:
        try:
            resp = ecs.describe_container_instances(cluster=cluster, containerInstances=[ci_arn])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("ClusterNotFoundException", "ClientException"):
                continue
            raise
        for ci in resp.get("containerInstances", []):
            if ci.get("ec2InstanceId"):
                return ci["ec2InstanceId"]
    raise HostLookupError(f"container instance {ci_arn} is in none of the ECS clusters {clusters}")


# ---------------------------------------------------------------------------- instances


@dataclass
class Instance:
    """An EC2 instance of the compute environment."""

    instance_id: str
    instance_type: str
    state: str  # pending | running | shutting-down | terminated ...
    lifecycle: str  # "spot" | "on-demand" (DescribeInstances InstanceLifecycle; absent = on-demand)
    tags: dict = field(default_factory=dict)


def describe_instances(ec2, instance_ids: Iterable[str]) -> dict:
    """``{instance id: Instance}`` for the ids that exist (DescribeInstances, 100 ids a call)."""
    ids = list(dict.fromkeys(instance_ids))
    found = {}
    for i in range(0, len(ids), 100):
        try:
            resp = ec2.describe_instances(InstanceIds=ids[i:i + 100])
        except ClientError as exc:
            if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
                raise
            resp = {"Reservations": []}
            for one in ids[i:i + 100]:  # one unknown id fails the whole call: ask one by one
                try:
                    resp["Reservations"] += ec2.describe_instances(InstanceIds=[one])["Reservations"]
                except ClientError:
                    pass
        for r in resp.get("Reservations", []):
            for inst in r.get("Instances", []):
                found[inst["InstanceId"]] = Instance(
                    instance_id=inst["InstanceId"], instance_type=inst.get("InstanceType", ""),
                    state=(inst.get("State") or {}).get("Name", ""),
                    lifecycle=inst.get("InstanceLifecycle") or "on-demand",
                    tags={t["Key"]: t["Value"] for t in inst.get("Tags") or []})
    return found


def running_instances(ecs, ec2, ce: ComputeEnvironment) -> list:
    """The compute environment's running EC2 instances (its ECS cluster's container instances), in
    the cluster's order."""
    if not ce.ecs_cluster_arn:
        return []
    arns = list(_paginate(ecs, "list_container_instances", "containerInstanceArns", cluster=ce.ecs_cluster_arn))
    ids = []
    for i in range(0, len(arns), 100):
        resp = ecs.describe_container_instances(cluster=ce.ecs_cluster_arn, containerInstances=arns[i:i + 100])
        ids += [ci["ec2InstanceId"] for ci in resp.get("containerInstances", []) if ci.get("ec2InstanceId")]
    described = describe_instances(ec2, ids)
    return [described[i] for i in dict.fromkeys(ids) if i in described and described[i].state == "running"]


def gone(ec2, instance_ids: Iterable[str]) -> dict:
    """``{instance id: state}`` of the instances that are shutting down or terminated (or unknown)."""
    ids = list(instance_ids)
    described = describe_instances(ec2, ids)
    return {i: (described[i].state if i in described else "unknown") for i in ids
            if i not in described or described[i].state in GONE_STATES}


def _paginate(client, operation: str, key: str, **kwargs):
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(key, [])
    else:  # pragma: no cover - every operation used here is paginated in botocore
        yield from getattr(client, operation)(**kwargs).get(key, [])
