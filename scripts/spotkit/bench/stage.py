"""The benchmark stage: an emulator of its own, a Batch-on-Spot stack and the resubmission pipeline.

The pipeline is built with boto3 the way ``modules/spot-resubmit`` builds it (same resources, same
settings and the same function environment contract), so one benchmark run does not depend on a
Terraform apply of a changing root:

* EventBridge rule ``<name>-failed``: ``aws.batch`` "Batch Job State Change", ``status: FAILED``,
  ``jobQueue`` = the stack's queue -> SQS target ``<name>-events`` (KMS-encrypted with a customer
  managed key, visibility timeout ``6 x function timeout + batching window``, redrive to
  ``<name>-dlq`` after ``max_receive_count`` receives; the DLQ is also the target's and the
  function's dead-letter queue);
* event source mapping events queue -> function: ``BatchSize``, ``MaximumBatchingWindowInSeconds``,
  ``ScalingConfig.MaximumConcurrency`` and ``FunctionResponseTypes: [ReportBatchItemFailures]``;
* the function from ``build/resubmit.zip`` (handler ``app.handler``) with the contract's
  environment (docs in functions/resubmit/app.py), including a DynamoDB idempotency table
  (``id`` hash key, TTL attribute ``expiration``, on-demand billing) and an SNS alert topic.

AWS references: Lambda Developer Guide "Using Lambda with Amazon SQS" (with-sqs.html) and
"Configuring scaling behavior for SQS event source mappings" (services-sqs-scaling.html); AWS Batch
User Guide "Job state change events" (batch_job_events.html).
"""

from __future__ import annotations

import json
import signal
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import boto3
from botocore.config import Config

from spotkit.aws import JOB_STATUSES

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
SERVICES = ("batch", "ec2", "ecs", "iam", "sqs", "lambda", "events", "dynamodb", "kms", "sns")
#: Batch job statuses, in life-cycle order (ListJobs takes one at a time).
HOST_LOST_PREFIX = "Host EC2 (instance "


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Progress:
    """Prints progress lines (to stderr through ``echo``), at most one per ``every`` seconds per key."""

    def __init__(self, echo: Callable[[str], None], every: float = 5.0):
        self.echo, self.every = echo, every
        self._last: Dict[str, float] = {}

    def __call__(self, message: str, key: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if force or not key or now - self._last.get(key, -1e9) >= self.every:
            self._last[key] = now
            self.echo(message)


@contextmanager
def emulator(port: int, submit_job_rate: float, echo: Callable[[str], None]) -> Iterator["Stage"]:
    """Start ``spotkit local up --execution hold`` on ``port``; always stop it on the way out
    (normal exit, exception, Ctrl-C, SIGTERM). Yields a :class:`Stage`.

    Raises:
        click.ClickException: the port is taken or the emulator did not start.
    """
    from spotkit.emulator import cli as local

    previous = signal.getsignal(signal.SIGTERM)

    def _terminate(signum, frame):  # SIGTERM: unwind like Ctrl-C so the emulator goes down
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    try:
        local.up(port, execution="hold", submit_job_rate=submit_job_rate)
        try:
            yield Stage(port, local.run_dir(port) / "work")
        finally:
            echo(f"stopping the bench emulator on port {port}")
            local.down(port)
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class Stage:
    """Clients for one emulator (``port``) and its counters file (``work_dir/stats.json``)."""

    port: int
    work_dir: Path
    clients: Dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kw = dict(endpoint_url=f"http://127.0.0.1:{self.port}", region_name=REGION,
                  aws_access_key_id="testing", aws_secret_access_key="testing",
                  config=Config(retries={"mode": "standard", "max_attempts": 10}, read_timeout=300))
        self.clients = {name: boto3.client(name, **kw) for name in SERVICES}

    def __getattr__(self, name: str):
        clients = self.__dict__.get("clients") or {}
        if name in clients:
            return clients[name]
        raise AttributeError(name)

    # ---------------------------------------------------------------- counters
    def stats(self, newer_than: float = 0.0, timeout: float = 60.0) -> dict:
        """The emulator's counters (``stats.json``) written after epoch second ``newer_than``.

        Raises:
            TimeoutError: no such snapshot within ``timeout`` seconds.
        """
        path = self.work_dir / "stats.json"
        deadline = time.monotonic() + timeout
        while True:
            try:
                data = json.loads(path.read_text())
                if data.get("time", 0) > newer_than:
                    return data
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no emulator counters newer than {newer_than} in {path}")
            time.sleep(0.2)

    # ------------------------------------------------------------------- jobs
    def list_jobs(self, queue: str, statuses=JOB_STATUSES) -> List[dict]:
        """Job summaries of ``queue`` in ``statuses`` (one ListJobs per status, every page)."""
        out: List[dict] = []
        pages = self.batch.get_paginator("list_jobs")
        for status in statuses:
            for page in pages.paginate(jobQueue=queue, jobStatus=status):
                out += page.get("jobSummaryList", [])
        return out

    def describe_jobs(self, ids: List[str]) -> List[dict]:
        """DescribeJobs for ``ids``, 100 per call."""
        out: List[dict] = []
        for i in range(0, len(ids), 100):
            out += self.batch.describe_jobs(jobs=ids[i:i + 100]).get("jobs", [])
        return out

    def queue_depth(self, url: str) -> int:
        """Visible + in-flight messages of an SQS queue."""
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


# ---------------------------------------------------------------------- Batch stack

@dataclass
class BatchStack:
    """ARNs of a Spot compute environment, its queue and a job definition."""

    ce_arn: str
    ce_name: str
    queue_arn: str
    job_definition_arn: str
    instance_type: str
    host_vcpus: int
    host_memory_mib: int


def instance_shape(stage: Stage, instance_type: str) -> tuple:
    """``(vCPUs, memory MiB)`` of ``instance_type`` (EC2 DescribeInstanceTypes)."""
    info = stage.ec2.describe_instance_types(InstanceTypes=[instance_type])["InstanceTypes"][0]
    return int(info["VCpuInfo"]["DefaultVCpus"]), int(info["MemoryInfo"]["SizeInMiB"])


def make_batch_stack(stage: Stage, name: str, *, instance_type: str, hosts: int, job_vcpus: int,
                     job_memory_mib: int, pin_hosts: bool = False) -> BatchStack:
    """VPC + subnet + security group, IAM roles, a MANAGED SPOT compute environment with allocation
    strategy BEST_FIT (a Spot Fleet request of type maintain, which is what a capacity cut lowers),
    a job queue and a container job definition without native retry (``attempts`` 1: every host
    loss reaches FAILED, which is what the function handles).

    ``maxvCpus`` is ``hosts`` instances' worth; with ``pin_hosts`` ``minvCpus`` equals it too (the
    fleet keeps that many instances whatever the demand: needed when jobs are packed by memory,
    since Batch capacity follows vCPU demand).
    """
    ec2, iam, batch = stage.ec2, stage.iam, stage.batch
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.0.0/20")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"{name}-batch", Description="bench", VpcId=vpc)["GroupId"]
    trust = lambda svc: json.dumps({"Version": "2012-10-17", "Statement": [  # noqa: E731
        {"Effect": "Allow", "Principal": {"Service": svc}, "Action": "sts:AssumeRole"}]})
    service = iam.create_role(RoleName=f"{name}-batch-service",
                              AssumeRolePolicyDocument=trust("batch.amazonaws.com"))["Role"]["Arn"]
    fleet = iam.create_role(RoleName=f"{name}-spot-fleet",
                            AssumeRolePolicyDocument=trust("spotfleet.amazonaws.com"))["Role"]["Arn"]
    iam.create_role(RoleName=f"{name}-ecs-instance", AssumeRolePolicyDocument=trust("ec2.amazonaws.com"))
    profile = iam.create_instance_profile(InstanceProfileName=f"{name}-ecs-instance")["InstanceProfile"]["Arn"]
    host_vcpus, host_memory = instance_shape(stage, instance_type)
    max_vcpus = hosts * host_vcpus
    resources = {"type": "SPOT", "allocationStrategy": "BEST_FIT", "bidPercentage": 100,
                 "minvCpus": max_vcpus if pin_hosts else 0, "maxvCpus": max_vcpus,
                 "instanceTypes": [instance_type], "subnets": [subnet], "securityGroupIds": [sg],
                 "instanceRole": profile, "spotIamFleetRole": fleet, "tags": {"project": "spotkit-bench"}}
    ce = batch.create_compute_environment(computeEnvironmentName=f"{name}-spot", type="MANAGED", state="ENABLED",
                                          serviceRole=service, computeResources=resources)
    queue = batch.create_job_queue(jobQueueName=f"{name}-spot", state="ENABLED", priority=1,
                                   computeEnvironmentOrder=[{"order": 1,
                                                             "computeEnvironment": ce["computeEnvironmentArn"]}])
    jd = batch.register_job_definition(
        jobDefinitionName=f"{name}-job", type="container", parameters={"seconds": "3600"},
        containerProperties={"image": "public.ecr.aws/amazonlinux/amazonlinux:2023",
                             "command": ["sh", "-c", "sleep Ref::seconds"],
                             "resourceRequirements": [{"type": "VCPU", "value": str(job_vcpus)},
                                                      {"type": "MEMORY", "value": str(job_memory_mib)}]},
        retryStrategy={"attempts": 1})
    return BatchStack(ce["computeEnvironmentArn"], ce["computeEnvironmentName"], queue["jobQueueArn"],
                      jd["jobDefinitionArn"], instance_type, host_vcpus, host_memory)


def fleet_of(stage: Stage, ce_name: str) -> Optional[dict]:
    """The active Spot Fleet request serving compute environment ``ce_name``, found through the CE's
    instances as it would be on AWS (where ``AWSBatchServiceTag`` is ``batch`` for every CE and names
    none): the CE's ECS cluster → its container instances' ``ec2InstanceId`` → the instances' tag
    ``aws:ec2spot:fleet-request-id`` (set by Spot Fleet), else the active fleet whose
    DescribeSpotFleetInstances lists one of them. ``None`` while the CE has no instance.
    """
    ces = stage.batch.describe_compute_environments(computeEnvironments=[ce_name])["computeEnvironments"]
    cluster = ces[0].get("ecsClusterArn") if ces else None
    if not cluster:
        return None
    arns = stage.ecs.list_container_instances(cluster=cluster).get("containerInstanceArns") or []
    if not arns:
        return None
    described = stage.ecs.describe_container_instances(cluster=cluster, containerInstances=arns)
    instance_ids = {c["ec2InstanceId"] for c in described.get("containerInstances") or [] if c.get("ec2InstanceId")}
    if not instance_ids:
        return None
    fleet_ids = set()
    for reservation in stage.ec2.describe_instances(InstanceIds=sorted(instance_ids))["Reservations"]:
        for inst in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in inst.get("Tags") or []}
            if tags.get("aws:ec2spot:fleet-request-id"):
                fleet_ids.add(tags["aws:ec2spot:fleet-request-id"])
    configs = stage.ec2.describe_spot_fleet_requests(
        **({"SpotFleetRequestIds": sorted(fleet_ids)} if fleet_ids else {}))["SpotFleetRequestConfigs"]
    for cfg in configs:
        if cfg.get("SpotFleetRequestState") != "active":
            continue
        if cfg["SpotFleetRequestId"] in fleet_ids:
            return cfg
        active = stage.ec2.describe_spot_fleet_instances(SpotFleetRequestId=cfg["SpotFleetRequestId"])
        if instance_ids & {i["InstanceId"] for i in active.get("ActiveInstances") or []}:
            return cfg
    return None


# ------------------------------------------------------------------------ pipeline

@dataclass
class PipelineSettings:
    """Event source mapping and function settings (units: records, seconds, invocations)."""

    batch_size: int = 500
    window_seconds: int = 1
    max_concurrency: int = 2
    #: The module's submit_job_rate_per_second: each invocation paces at this / max_concurrency.
    submit_job_budget_per_second: float = 50.0
    lambda_timeout: int = 60
    lambda_memory_mib: int = 256
    max_receive_count: int = 5
    max_resubmissions: int = 3
    log_level: str = "INFO"
    extra_env: Dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Raises ValueError for settings AWS would reject (services-sqs-configure.html)."""
        if not 1 <= self.batch_size <= 10000:
            raise ValueError("batch size must be 1..10000")
        if not 0 <= self.window_seconds <= 300:
            raise ValueError("batching window must be 0..300 seconds")
        if self.batch_size > 10 and self.window_seconds < 1:
            raise ValueError("a batch size above 10 needs a batching window of at least 1 second (AWS rule)")
        if not 2 <= self.max_concurrency <= 1000:
            raise ValueError("maximum concurrency must be 2..1000 (ScalingConfig.MaximumConcurrency)")

    @property
    def submit_job_rate_per_invocation(self) -> float:
        """SPOTKIT_SUBMIT_JOB_RATE as modules/spot-resubmit computes it."""
        return self.submit_job_budget_per_second / self.max_concurrency

    def as_dict(self) -> dict:
        return {"batch_size": self.batch_size, "maximum_batching_window_seconds": self.window_seconds,
                "maximum_concurrency": self.max_concurrency, "function_response_types": ["ReportBatchItemFailures"],
                "submit_job_rate_per_second": self.submit_job_budget_per_second,
                "submit_job_rate_per_invocation": self.submit_job_rate_per_invocation,
                "lambda_timeout_seconds": self.lambda_timeout, "lambda_memory_mib": self.lambda_memory_mib,
                "max_receive_count": self.max_receive_count,
                "events_visibility_timeout_seconds": 6 * self.lambda_timeout + self.window_seconds,
                "max_resubmissions": self.max_resubmissions, "idempotency_table": True,
                "extra_function_environment": dict(self.extra_env)}


@dataclass
class Pipeline:
    """What :func:`deploy_pipeline` created."""

    function_name: str
    events_queue_url: str
    dlq_url: str
    table: str
    esm_uuid: str
    #: the queue a rule (source "spotkit") fills with the function's decision events; None when off
    decisions_queue_url: Optional[str] = None


def function_policy(queue_arns: List[str], events_arn: str, dlq_arn: str, table: str, topic_arn: str) -> dict:
    """The function role's policy as ``modules/spot-resubmit`` writes it (data.aws_iam_policy_document.lambda),
    for the bench's resources: the emulator enforces it (an event source mapping whose role may not
    read the queue never polls; a denied Batch call fails the record), so the bench runs with the
    module's permissions and no more. Job definitions: any revision in the account (the module names
    the stack's); logs and X-Ray statements are left out (the emulator has neither).
    """
    account, region = ACCOUNT_ID, REGION
    job_definitions = [f"arn:aws:batch:{region}:{account}:job-definition/*"]
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ResubmitToKnownQueuesAndDefinitions", "Effect": "Allow", "Action": ["batch:SubmitJob"],
         "Resource": list(queue_arns) + job_definitions},
        {"Sid": "TagResubmittedJobs", "Effect": "Allow", "Action": ["batch:TagResource"],
         "Resource": [f"arn:aws:batch:{region}:{account}:job/*"] + job_definitions},
        {"Sid": "DescribeAndListJobs", "Effect": "Allow",
         "Action": ["batch:DescribeJobs", "batch:ListJobs", "batch:DescribeJobDefinitions"], "Resource": ["*"]},
        {"Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic_arn]},
        {"Sid": "IdempotencyRecords", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
         "Resource": [f"arn:aws:dynamodb:{region}:{account}:table/{table}"]},
        {"Sid": "ConsumeEventsQueue", "Effect": "Allow", "Action": [
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
         "Resource": [events_arn]},
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [dlq_arn]},
        {"Sid": "PublishDecisionEvents", "Effect": "Allow", "Action": ["events:PutEvents"],
         "Resource": [f"arn:aws:events:{region}:{account}:event-bus/default"]},
        {"Sid": "EncryptedQueuesTopicAndTable", "Effect": "Allow", "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
         "Resource": ["*"], "Condition": {"StringEquals": {"kms:ViaService": [
             f"sns.{region}.amazonaws.com", f"sqs.{region}.amazonaws.com", f"dynamodb.{region}.amazonaws.com"]}}},
    ]}


def deploy_pipeline(stage: Stage, name: str, zip_path: Path, queue_arns: List[str],
                    settings: PipelineSettings) -> Pipeline:
    """Create the rule -> SQS -> event source mapping -> function pipeline (see the module docstring)."""
    settings.validate()
    sqs, kms = stage.sqs, stage.kms
    key = kms.create_key(Description=f"{name} queues")["KeyMetadata"]["Arn"]
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"KmsMasterKeyId": key})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events_url = sqs.create_queue(QueueName=f"{name}-events", Attributes={
        "KmsMasterKeyId": key,
        "VisibilityTimeout": str(6 * settings.lambda_timeout + settings.window_seconds),
        "MessageRetentionPeriod": "345600",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.max_receive_count}),
    })["QueueUrl"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    table = f"{name}-resubmit-idempotency"
    stage.dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                SSESpecification={"Enabled": True})
    stage.dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True,
                                                                                   "AttributeName": "expiration"})
    topic = stage.sns.create_topic(Name=f"{name}-alerts")["TopicArn"]
    role = stage.iam.create_role(RoleName=f"{name}-resubmit", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    function = f"{name}-resubmit"
    stage.iam.put_role_policy(RoleName=f"{name}-resubmit", PolicyName=f"{name}-resubmit",
                              PolicyDocument=json.dumps(function_policy(queue_arns, events_arn, dlq_arn, table,
                                                                        topic)))
    stage.clients["lambda"].create_function(
        FunctionName=function, Runtime="python3.12", Role=role, Handler="app.handler",
        Code={"ZipFile": zip_path.read_bytes()}, Timeout=settings.lambda_timeout,
        MemorySize=settings.lambda_memory_mib, DeadLetterConfig={"TargetArn": dlq_arn},
        Environment={"Variables": {
            "SPOTKIT_MAX_RESUBMISSIONS": str(settings.max_resubmissions),
            "SPOTKIT_ALERT_TOPIC_ARN": topic,
            "SPOTKIT_IDEMPOTENCY_TABLE": table,
            "SPOTKIT_IDEMPOTENCY_TTL_SECONDS": "86400",
            "SPOTKIT_FALLBACK_JOB_QUEUE": "",
            "SPOTKIT_FALLBACK_AFTER_LOSSES": "2",
            "SPOTKIT_SUBMIT_JOB_RATE": str(settings.submit_job_rate_per_invocation),
            "POWERTOOLS_SERVICE_NAME": function,
            "POWERTOOLS_METRICS_NAMESPACE": "spotkit",
            "POWERTOOLS_LOG_LEVEL": settings.log_level,
            # the module's default: decisions published to the default bus (one PutEvents per 10)
            "SPOTKIT_DECISION_EVENT_BUS": "default",
            **settings.extra_env,
        }})
    decisions_url = None
    if (settings.extra_env.get("SPOTKIT_DECISION_EVENT_BUS", "default") or "").strip():
        # a subscriber, as notifications are: every decision event lands in this queue
        decisions_url = sqs.create_queue(QueueName=f"{name}-decisions")["QueueUrl"]
        decisions_arn = sqs.get_queue_attributes(QueueUrl=decisions_url,
                                                 AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stage.events.put_rule(Name=f"{name}-decisions", State="ENABLED",
                              EventPattern=json.dumps({"source": ["spotkit"]}))
        stage.events.put_targets(Rule=f"{name}-decisions", Targets=[{"Id": "decisions", "Arn": decisions_arn}])
    rule = f"{name}-failed"
    stage.events.put_rule(Name=rule, State="ENABLED", EventPattern=json.dumps({
        "source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
        "detail": {"status": ["FAILED"], "jobQueue": list(queue_arns)}}))
    stage.events.put_targets(Rule=rule, Targets=[{
        "Id": "resubmit-queue", "Arn": events_arn, "DeadLetterConfig": {"Arn": dlq_arn},
        "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 185}}])
    esm = stage.clients["lambda"].create_event_source_mapping(
        EventSourceArn=events_arn, FunctionName=function, BatchSize=settings.batch_size,
        MaximumBatchingWindowInSeconds=settings.window_seconds, FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": settings.max_concurrency}, Enabled=True)
    return Pipeline(function, events_url, dlq_url, table, esm["UUID"], decisions_url)

