"""Shared pytest fixtures.

Layering: ``aws_credentials`` (fake keys, region, no real endpoint) -> ``aws`` (moto ``mock_aws``) ->
resource fixtures (``batch_resources``, ``alert_topic``). Lambda functions under functions/ are
imported as they are in Lambda, from their own folder (``resubmit_app``), never via ``spotkit``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pytest

REPO = Path(__file__).resolve().parents[1]
EVENTS_DIR = Path(__file__).resolve().parent / "events"
FUNCTIONS_DIR = REPO / "functions"
REGION = "us-east-1"


@dataclass
class LambdaContext:
    """The subset of the Lambda context object that Powertools reads."""

    function_name: str = "spotkit-resubmit"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:spotkit-resubmit"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/spotkit-resubmit"
    log_stream_name: str = "2026/11/21/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def aws_credentials(monkeypatch):
    """Fake credentials and region; strips anything that could reach a real account or emulator."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def aws(aws_credentials):
    """moto's ``mock_aws`` with Batch jobs completing without Docker."""
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}}):
        yield


@dataclass(frozen=True)
class BatchResources:
    compute_environment_arn: str
    job_queue_arn: str
    job_definition_arn: str  # with revision


@pytest.fixture
def batch_resources(aws) -> BatchResources:
    """An UNMANAGED compute environment, a job queue and a container job definition in moto."""
    import boto3

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="spotkit-batch-service", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    batch = boto3.client("batch", region_name=REGION)
    ce = batch.create_compute_environment(computeEnvironmentName="spotkit-test-ce", type="UNMANAGED",
                                          state="ENABLED", serviceRole=role)["computeEnvironmentArn"]
    jq = batch.create_job_queue(jobQueueName="spotkit-test-queue", state="ENABLED", priority=1,
                                computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    jd = batch.register_job_definition(
        jobDefinitionName="spotkit-test-def", type="container",
        containerProperties={"image": "busybox", "command": ["true"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "512"}]},
    )["jobDefinitionArn"]
    return BatchResources(ce, jq, jd)


@pytest.fixture
def alert_topic(aws):
    """An SNS topic with an SQS subscriber (raw delivery off); yields ``(topic_arn, queue_url)``."""
    import boto3

    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="spotkit-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="spotkit-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue_url


@pytest.fixture
def load_event() -> Callable[..., dict[str, Any]]:
    """``load_event(name, **detail_overrides)`` reads tests/events/<name>.json and overrides detail keys."""

    def _load(name: str, **detail: Any) -> dict[str, Any]:
        event = json.loads((EVENTS_DIR / f"{name}.json").read_text())
        if isinstance(event.get("detail"), dict):
            event["detail"].update(detail)
        return event

    return _load


@pytest.fixture
def resubmit_app(aws, monkeypatch):
    """functions/resubmit/app.py imported as Lambda would (module ``app``), with Powertools test env."""
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "spotkit")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "spotkit-resubmit")
    for name in ("SPOTKIT_MAX_RESUBMISSIONS", "SPOTKIT_RECLAIM_PATTERNS", "SPOTKIT_ALERT_TOPIC_ARN",
                 "SPOTKIT_IDEMPOTENCY_TABLE"):
        monkeypatch.delenv(name, raising=False)
    path = str(FUNCTIONS_DIR / "resubmit")
    monkeypatch.syspath_prepend(path)
    for mod in FUNCTION_MODULES:
        sys.modules.pop(mod, None)
    app = importlib.import_module("app")
    yield app
    for mod in FUNCTION_MODULES:
        sys.modules.pop(mod, None)


#: The resubmit function's own top-level modules (re-imported per test, as a fresh Lambda would).
FUNCTION_MODULES = ("app", "stages", "batchapi", "ledger", "telemetry", "publish")


@pytest.fixture
def batch_api(resubmit_app):
    """The function's ``batchapi`` module (its Batch client, pacer and SubmitJob helpers)."""
    return sys.modules["batchapi"]


@pytest.fixture
def failed_job(load_event, batch_resources):
    """``failed_job(name="spot_reclaim", *, tags=None, timeout=None, array_size=None, **submit)`` -> event.

    Submits a job to moto shaped like tests/events/<name>.json's ``detail`` (jobName, command,
    environment, parameters, resource requirements) with the job's own ``tags`` and ``timeout``
    (seconds) -- which AWS's events do not carry -- and returns the AWS-shaped FAILED event of that job:
    ``jobId``/``jobArn``/``jobQueue``/``jobDefinition``/``resources`` point at the moto job and
    ``detail.tags`` is AWS's ``{"resourceArn": <jobArn>}`` placeholder. With ``array_size`` the job is
    an array job and ``child=N`` in ``submit`` makes the event the child ``N``'s.
    """
    import boto3

    def _failed(name: str = "spot_reclaim", *, tags: dict | None = None, timeout: int | None = None,
                array_size: int | None = None, child: int | None = None, **submit: Any) -> dict[str, Any]:
        event = load_event(name)
        detail = event["detail"]
        container = detail.get("container") or {}
        overrides: dict[str, Any] = {}
        if container.get("command"):
            overrides["command"] = container["command"]
        env = [e for e in container.get("environment") or [] if not e["name"].startswith("AWS_BATCH")]
        if env:
            overrides["environment"] = env
        request: dict[str, Any] = {"jobName": detail["jobName"], "jobQueue": batch_resources.job_queue_arn,
                                   "jobDefinition": batch_resources.job_definition_arn,
                                   "containerOverrides": overrides, "parameters": detail.get("parameters") or {}}
        if tags:
            request["tags"] = tags
        if timeout:
            request["timeout"] = {"attemptDurationSeconds": timeout}
        if array_size:
            request["arrayProperties"] = {"size": array_size}
        request.update(submit)
        batch = boto3.client("batch", region_name=REGION)
        job = batch.submit_job(**request)
        job_id = job["jobId"] if child is None else f"{job['jobId']}:{child}"
        arn = job["jobArn"] if child is None else f"{job['jobArn']}:{child}"
        detail.update(jobId=job_id, jobArn=arn, jobName=request["jobName"], jobQueue=request["jobQueue"],
                      jobDefinition=request["jobDefinition"], tags={"resourceArn": arn})
        if child is not None:
            detail["arrayProperties"] = {"index": child}
        detail.pop("timeout", None)
        event["resources"] = [arn]
        return event

    return _failed


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def emulator_process(work: Path, *args: str, startup_seconds: float = 60) -> Iterator[SimpleNamespace]:
    """``python -m spotkit.emulator.server`` on a free port with work folder ``work`` and extra CLI
    ``args``, ready (STS answers) before it yields ``SimpleNamespace(endpoint, work_dir, log)``;
    terminated on exit.

    Raises:
        AssertionError: it exited or did not answer within ``startup_seconds`` (the log tail is shown).
    """
    port = free_port()
    log_path = work / "emulator.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "spotkit.emulator.server", "--port", str(port),
                                 "--work-dir", str(work), *args], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/?Action=GetCallerIdentity&Version=2011-06-15", timeout=5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"emulator did not start:\n{log_path.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield SimpleNamespace(endpoint=endpoint, work_dir=work, log=log_path)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def submit_requests(resubmit_app):
    """Every SubmitJob request the function's Batch client sends (params as sent on the wire, in
    order), captured with a botocore ``before-call.batch.SubmitJob`` hook: failed attempts too."""
    seen: list[dict] = []

    def _capture(params, **_):
        seen.append(json.loads(params["body"]))

    events = sys.modules["batchapi"].batch.meta.events
    events.register("before-call.batch.SubmitJob", _capture)
    yield seen
    events.unregister("before-call.batch.SubmitJob", _capture)


def all_jobs(batch, queue: str) -> list[dict]:
    """Every job summary in ``queue``, all statuses (ListJobs takes one status at a time)."""
    from spotkit.aws import JOB_STATUSES

    return [j for status in JOB_STATUSES
            for j in batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]]


def job_ids(batch, queue: str) -> list[str]:
    """The ids of :func:`all_jobs`."""
    return [j["jobId"] for j in all_jobs(batch, queue)]


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 180.0, interval: float = 0.5) -> Any:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy; return it.

    Raises:
        AssertionError: ``timeout`` seconds passed first (the message names ``what``).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def emulator_clients(endpoint: str, services: tuple[str, ...], **config: Any) -> dict[str, Any]:
    """boto3 clients of ``services`` for the emulator at ``endpoint`` (fake keys, us-east-1);
    ``config`` goes to ``botocore.config.Config`` (e.g. ``retries``)."""
    import boto3
    from botocore.config import Config

    kw: dict[str, Any] = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
                              aws_secret_access_key="testing")
    if config:
        kw["config"] = Config(**config)
    return {name: boto3.client(name, **kw) for name in services}
