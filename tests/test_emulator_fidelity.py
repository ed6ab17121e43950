"""The emulator answers like AWS: payload shapes compared with captured AWS payloads, and the request
limits AWS documents (each test names its page; docs/emulator.md lists them all).

References are the captures in tests/fidelity/aws/ (provenance in tests/fidelity/SOURCES.md). Shapes are
compared key by key, type by type and identifier format by format at every level with
``fidelity.shapes.compare``; event value relations with ``fidelity.shapes.batch_event_semantics``.

One emulator process for the module (``--time-scale 0.02``: a 60 s attempt timeout fires after 1.2 s).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import emulator_clients, emulator_process
from fidelity import shapes
from spotkit.emulator.throttle import SubmitJobThrottle, TooManyRequestsException
from test_emulator import _name, drain, event_queue, instance_of, wait_job

integration = pytest.mark.integration  # the test starts or uses an emulator process
CAPTURES = Path(__file__).resolve().parent / "fidelity" / "aws"


def capture(name: str) -> dict:
    return json.loads((CAPTURES / name).read_text())


#: Free-form maps whose keys are the user's (job parameters): only their type is compared.
MAPS = ["detail.parameters", "parameters"]


# ------------------------------------------------------------------------------ the emulator

@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with emulator_process(tmp_path_factory.mktemp("emulator-fidelity"), "--tick", "0.1", "--dwell-seconds", "0.2",
                          "--scale-delay-seconds", "0.3", "--boot-seconds", "0.3", "--idle-seconds", "2",
                          "--time-scale", "0.02") as emulator:
        yield emulator


def _clients(emulator, **config):
    return emulator_clients(emulator.endpoint, ("batch", "ec2", "ecs", "iam", "events", "sqs"), **config)


@pytest.fixture(scope="module")
def aws(emulator):
    return _clients(emulator)


@pytest.fixture(scope="module")
def raw_batch(emulator):
    """A Batch client that sends what it is given (no client-side validation, no retries), so the
    emulator's own checks answer."""
    return _clients(emulator, parameter_validation=False, retries={"total_max_attempts": 1})["batch"]


@pytest.fixture(scope="module")
def stack(aws):
    """A Spot CE (BEST_FIT, m5.large) and a queue; job definitions are made per test."""
    ec2, iam, batch = aws["ec2"], aws["iam"], aws["batch"]
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=_name("sg"), Description="batch", VpcId=vpc)["GroupId"]
    service = iam.create_role(RoleName=_name("svc"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fleet = iam.create_role(RoleName=_name("fleet"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=_name("ecs"))["InstanceProfile"]["Arn"]
    ce = batch.create_compute_environment(
        computeEnvironmentName=_name("ce"), type="MANAGED", state="ENABLED", serviceRole=service,
        computeResources={"type": "SPOT", "allocationStrategy": "BEST_FIT", "minvCpus": 0, "maxvCpus": 8,
                          "instanceTypes": ["m5.large"], "subnets": [subnet], "securityGroupIds": [sg],
                          "instanceRole": profile, "spotIamFleetRole": fleet})
    queue = batch.create_job_queue(jobQueueName=_name("q"), state="ENABLED", priority=1,
                                   computeEnvironmentOrder=[{"order": 1,
                                                             "computeEnvironment": ce["computeEnvironmentArn"]}])
    role = iam.create_role(RoleName=_name("job"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return {"queue": queue["jobQueueArn"], "ce": ce["computeEnvironmentArn"], "role": role}


CAPTURED_RETRY = {"attempts": 3, "evaluateOnExit": [
    {"onReason": "CannotPullContainerError:*", "action": "retry"},
    {"onStatusReason": "Host EC2*", "action": "retry"},
    {"onReason": "*", "action": "exit"}]}


def _failed_event_definition(aws, stack, command, attempts=3) -> str:
    """A job definition set up like the one behind the captured FAILED event (execution role, log
    configuration, read-only root file system false, resourceRequirements, the same retry strategy)."""
    return aws["batch"].register_job_definition(
        jobDefinitionName=_name("jd"), type="container", platformCapabilities=["EC2"],
        retryStrategy=dict(CAPTURED_RETRY, attempts=attempts),
        containerProperties={
            "image": "public.ecr.aws/amazonlinux/amazonlinux:latest", "command": command,
            "executionRoleArn": stack["role"], "readonlyRootFilesystem": False,
            "resourceRequirements": [{"value": "1000", "type": "MEMORY"}, {"value": "1", "type": "VCPU"}],
            "logConfiguration": {"logDriver": "awslogs", "secretOptions": [],
                                 "options": {"awslogs-group": "g", "awslogs-region": "us-east-1",
                                             "awslogs-stream-prefix": "job"}}})["jobDefinitionArn"]


def _failed_event(aws, stack, job_id: str, url: str) -> dict:
    events = drain(aws, url, until=lambda ev: any(e["detail"]["jobId"] == job_id and e["detail"]["status"] == "FAILED"
                                                  for e in ev), timeout=30)
    failed = [e for e in events if e["detail"]["jobId"] == job_id and e["detail"]["status"] == "FAILED"]
    assert len(failed) == 1, [e["detail"]["status"] for e in events]
    return failed[0]


@integration
def test_failed_event_of_a_container_exit_has_the_captured_shape(aws, stack):
    reference = capture("hls_job_state_change_failure.json")
    jd = _failed_event_definition(aws, stack, ["sh", "-c", "exit 1"])
    url = event_queue(aws, {"source": ["aws.batch"], "detail": {"jobQueue": [stack["queue"]], "status": ["FAILED"]}})
    sub = aws["batch"].submit_job(jobName="test-failure", jobQueue=stack["queue"], jobDefinition=jd,
                                  tags={"team": "data", "spotkit:previous-job-id": "abc"})
    event = _failed_event(aws, stack, sub["jobId"], url)
    assert shapes.compare(event, reference, ignore=MAPS) == []
    assert shapes.batch_event_semantics(event) == []
    # the event's tags are never the job's tags (AWS: {"resourceArn": <job ARN>}) and carry no timeout
    assert event["detail"]["tags"] == {"resourceArn": sub["jobArn"]}
    assert "timeout" not in event["detail"]
    # DescribeJobs still returns the real tags
    job = aws["batch"].describe_jobs(jobs=[sub["jobId"]])["jobs"][0]
    assert job["tags"] == {"team": "data", "spotkit:previous-job-id": "abc"}


@integration
def test_failed_event_of_a_spot_loss_has_the_captured_shape(aws, stack):
    # derived (SOURCES.md): the captured FAILED event with the captured Spot JobDetail's attempts, no exitCode
    reference = capture("derived_job_state_change_failed_spot.json")
    jd = _failed_event_definition(aws, stack, ["sh", "-c", "sleep 60"], attempts=1)
    url = event_queue(aws, {"source": ["aws.batch"], "detail": {"jobQueue": [stack["queue"]], "status": ["FAILED"]}})
    sub = aws["batch"].submit_job(jobName="spot-loss", jobQueue=stack["queue"], jobDefinition=jd,
                                  tags={"team": "data"}, timeout={"attemptDurationSeconds": 3600})
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "RUNNING")
    instance = instance_of(aws, job)
    aws["ec2"].terminate_instances(InstanceIds=[instance])
    event = _failed_event(aws, stack, sub["jobId"], url)
    assert event["detail"]["statusReason"] == f"Host EC2 (instance {instance}) terminated."
    assert shapes.compare(event, reference, ignore=MAPS) == []
    assert shapes.batch_event_semantics(event) == []
    # a Spot-killed container has no exit code, in the attempt or the container (captured Spot JobDetail)
    assert "exitCode" not in event["detail"]["container"]
    assert "exitCode" not in event["detail"]["attempts"][0]["container"]
    assert event["detail"]["tags"] == {"resourceArn": sub["jobArn"]} and "timeout" not in event["detail"]
    described = aws["batch"].describe_jobs(jobs=[sub["jobId"]])["jobs"][0]
    assert described["timeout"] == {"attemptDurationSeconds": 3600} and described["tags"] == {"team": "data"}


@integration
def test_job_detail_of_a_spot_killed_job_with_three_attempts_has_the_captured_shape(aws, stack):
    reference = capture("hls_job_detail_failed_spot.json")
    jd = aws["batch"].register_job_definition(
        jobDefinitionName=_name("jd"), type="container", retryStrategy=CAPTURED_RETRY,
        timeout={"attemptDurationSeconds": 5400},
        containerProperties={"image": "example/hls-landsat", "vcpus": 2, "memory": 2000,
                             "command": ["sh", "-c", "sleep 600"], "jobRoleArn": stack["role"],
                             "environment": [{"name": "GRANULE_ID", "value": "g"}, {"name": "ATTEMPT", "value": "0"}]},
    )["jobDefinitionArn"]
    sub = aws["batch"].submit_job(jobName="LandsatAcJob", jobQueue=stack["queue"], jobDefinition=jd)
    lost = []
    for attempt in range(3):
        job, _ = wait_job(aws["batch"], sub["jobId"],
                          lambda j, n=attempt: j["status"] == "RUNNING" and len(j["attempts"]) == n, timeout=40)
        lost.append(instance_of(aws, job))
        aws["ec2"].terminate_instances(InstanceIds=[lost[-1]])
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "FAILED")
    assert [a["statusReason"] for a in job["attempts"]] == [f"Host EC2 (instance {i}) terminated." for i in lost]
    assert shapes.compare(job, reference, ignore=MAPS) == []
    assert job["container"]["resourceRequirements"] == [] and job["container"]["vcpus"] == 2


@integration
def test_array_child_event_names_the_parent_in_tags_and_has_the_captured_shape(aws, stack):
    reference = capture("public_array_child_succeeded.json")
    jd = aws["batch"].register_job_definition(
        jobDefinitionName=_name("jd"), type="container", platformCapabilities=["EC2"], retryStrategy={"attempts": 2},
        containerProperties={"image": "x", "command": ["true"], "executionRoleArn": stack["role"],
                             "environment": [{"name": "RUN_TYPE", "value": "model_run"}],
                             "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:t"}],
                             "linuxParameters": {"tmpfs": [], "devices": []},
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "512"}]},
    )["jobDefinitionArn"]
    url = event_queue(aws, {"source": ["aws.batch"], "detail": {"jobQueue": [stack["queue"]], "status": ["SUCCEEDED"]}})
    sub = aws["batch"].submit_job(jobName="arr", jobQueue=stack["queue"], jobDefinition=jd, arrayProperties={"size": 2},
                                  propagateTags=True, tags={"team": "data"})
    child = f"{sub['jobId']}:1"
    events = drain(aws, url, until=lambda ev: any(e["detail"]["jobId"] == child for e in ev), timeout=30)
    event = next(e for e in events if e["detail"]["jobId"] == child)
    assert event["detail"]["tags"] == {"resourceArn": sub["jobArn"]}  # the parent's ARN, not the child's
    assert event["detail"]["arrayProperties"] == {"index": 1, "statusSummary": {}}
    assert event["detail"]["retryStrategy"] == {"attempts": 2, "evaluateOnExit": []}
    assert shapes.compare(event, reference, ignore=MAPS) == []
    assert shapes.batch_event_semantics(event) == []


# ------------------------------------------------------------------- request validation

def _refused(call, **kwargs) -> str:
    """Call; assert AWS's answer to a bad request: ClientException, HTTP 400. Returns the message."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response
    assert error["Error"]["Code"] == "ClientException", error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Error"]["Message"]


@pytest.fixture(scope="module")
def jd(aws):
    """A job definition whose jobs run ``true`` (1 vCPU, 512 MiB)."""
    return aws["batch"].register_job_definition(
        jobDefinitionName=_name("jd"), type="container",
        containerProperties={"image": "busybox", "command": ["true"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "512"}]})["jobDefinitionArn"]


@integration
def test_submit_to_an_inactive_revision_is_refused(aws, raw_batch, stack):
    # SubmitJob → jobDefinition; Terraform deregisters the previous revision on every change
    batch = aws["batch"]
    name = _name("jd")
    props = {"image": "busybox", "command": ["true"], "resourceRequirements": [
        {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]}
    rev1 = batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties=props)
    rev2 = batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties=props)
    batch.deregister_job_definition(jobDefinition=rev1["jobDefinitionArn"])
    for ref in (rev1["jobDefinitionArn"], f"{name}:1"):
        message = _refused(raw_batch.submit_job, jobName="old", jobQueue=stack["queue"], jobDefinition=ref)
        assert "not in ACTIVE status" in message
    by_name = batch.submit_job(jobName="latest", jobQueue=stack["queue"], jobDefinition=name)
    assert batch.describe_jobs(jobs=[by_name["jobId"]])["jobs"][0]["jobDefinition"] == rev2["jobDefinitionArn"]
    # the latest revision INACTIVE, an older one ACTIVE: a bare name uses the latest ACTIVE one
    rev3 = batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties=props)
    batch.deregister_job_definition(jobDefinition=rev3["jobDefinitionArn"])
    by_name = batch.submit_job(jobName="latest-active", jobQueue=stack["queue"], jobDefinition=name)
    assert batch.describe_jobs(jobs=[by_name["jobId"]])["jobs"][0]["jobDefinition"] == rev2["jobDefinitionArn"]
    batch.deregister_job_definition(jobDefinition=rev2["jobDefinitionArn"])
    _refused(raw_batch.submit_job, jobName="none", jobQueue=stack["queue"], jobDefinition=name)


def _tags(n: int) -> dict:
    return {f"k{i}": "v" for i in range(n)}


@pytest.mark.parametrize("tags", [_tags(51), {"k" * 129: "v"}, {"": "v"}, {"k": "v" * 257}, {"aws:owner": "me"},
                                  {"AWS:owner": "me"}], ids=["51-tags", "key-129", "key-empty", "value-257",
                                                             "aws-prefix", "AWS-prefix"])
@integration
def test_submit_tags_over_the_limits_are_refused(raw_batch, stack, jd, tags):
    # SubmitJob → tags (50 entries, key 1-128, value 0-256); using-tags.html: aws: is reserved
    _refused(raw_batch.submit_job, jobName="tags", jobQueue=stack["queue"], jobDefinition=jd, tags=tags)


@integration
def test_submit_tags_at_the_limits_are_accepted(aws, stack, jd):
    tags = dict(_tags(48), **{"k" * 128: "v" * 256, "empty": ""})
    sub = aws["batch"].submit_job(jobName="tags", jobQueue=stack["queue"], jobDefinition=jd, tags=tags)
    assert aws["batch"].describe_jobs(jobs=[sub["jobId"]])["jobs"][0]["tags"] == tags


@integration
@pytest.mark.parametrize("name", ["x" * 129, "-starts-with-hyphen", "_underscore-first", "has.dot", "has space", ""])
def test_submit_job_names_outside_the_pattern_are_refused(raw_batch, stack, jd, name):
    # SubmitJob → jobName: up to 128, first alphanumeric, letters/digits/hyphens/underscores
    _refused(raw_batch.submit_job, jobName=name, jobQueue=stack["queue"], jobDefinition=jd)


@integration
@pytest.mark.parametrize("name", ["x" * 128, "a", "7", "A-b_9"])
def test_submit_job_names_inside_the_pattern_are_accepted(aws, stack, jd, name):
    assert aws["batch"].submit_job(jobName=name, jobQueue=stack["queue"], jobDefinition=jd)["jobName"] == name


@integration
@pytest.mark.parametrize("size", [1, 10_001, 0])
def test_submit_array_sizes_outside_2_to_10000_are_refused(raw_batch, stack, jd, size):
    # API_ArrayProperties → size: between 2 and 10,000
    _refused(raw_batch.submit_job, jobName="arr", jobQueue=stack["queue"], jobDefinition=jd,
             arrayProperties={"size": size})


@integration
def test_submit_depends_on_more_than_20_jobs_is_refused_and_20_accepted(aws, raw_batch, stack, jd):
    # SubmitJob → dependsOn: a job can depend upon a maximum of 20 jobs
    ids = [aws["batch"].submit_job(jobName=f"dep{i}", jobQueue=stack["queue"], jobDefinition=jd)["jobId"]
           for i in range(21)]
    _refused(raw_batch.submit_job, jobName="many", jobQueue=stack["queue"], jobDefinition=jd,
             dependsOn=[{"jobId": i} for i in ids])
    sub = aws["batch"].submit_job(jobName="twenty", jobQueue=stack["queue"], jobDefinition=jd,
                                  dependsOn=[{"jobId": i} for i in ids[:20]])
    wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "SUCCEEDED", timeout=60)


@integration
def test_share_identifier_only_and_always_with_a_scheduling_policy(aws, raw_batch, stack, jd):
    # SubmitJob → shareIdentifier
    batch = aws["batch"]
    _refused(raw_batch.submit_job, jobName="share", jobQueue=stack["queue"], jobDefinition=jd, shareIdentifier="a")
    policy = batch.create_scheduling_policy(name=_name("fs"), fairsharePolicy={"shareDecaySeconds": 0})["arn"]
    fair = batch.create_job_queue(jobQueueName=_name("fair"), state="ENABLED", priority=1, schedulingPolicyArn=policy,
                                  computeEnvironmentOrder=[{"order": 1, "computeEnvironment": stack["ce"]}])
    _refused(raw_batch.submit_job, jobName="noshare", jobQueue=fair["jobQueueArn"], jobDefinition=jd)
    sub = batch.submit_job(jobName="share", jobQueue=fair["jobQueueArn"], jobDefinition=jd, shareIdentifier="a")
    assert batch.describe_jobs(jobs=[sub["jobId"]])["jobs"][0]["shareIdentifier"] == "a"


@integration
def test_timeouts_under_60_seconds_are_refused(aws, raw_batch, stack, jd):
    # API_JobTimeout / job_timeouts.html: the minimum is 60 seconds
    _refused(raw_batch.submit_job, jobName="t", jobQueue=stack["queue"], jobDefinition=jd,
             timeout={"attemptDurationSeconds": 59})
    _refused(raw_batch.register_job_definition, jobDefinitionName=_name("jd"), type="container",
             timeout={"attemptDurationSeconds": 1},
             containerProperties={"image": "busybox", "resourceRequirements": [
                 {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]})
    aws["batch"].submit_job(jobName="t", jobQueue=stack["queue"], jobDefinition=jd,
                            timeout={"attemptDurationSeconds": 60})
    aws["batch"].register_job_definition(jobDefinitionName=_name("jd"), type="container",
                                         timeout={"attemptDurationSeconds": 60},
                                         containerProperties={"image": "busybox", "resourceRequirements": [
                                             {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]})


@integration
def test_describe_jobs_takes_at_most_100_ids(aws, raw_batch, stack, jd):
    # DescribeJobs → jobs: a list of up to 100 job IDs
    real = aws["batch"].submit_job(jobName="d", jobQueue=stack["queue"], jobDefinition=jd)["jobId"]
    ids = [real] + [str(uuid.uuid4()) for _ in range(99)]
    assert [j["jobId"] for j in aws["batch"].describe_jobs(jobs=ids)["jobs"]] == [real]
    message = _refused(raw_batch.describe_jobs, jobs=ids + [str(uuid.uuid4())])
    assert message.startswith("Error executing request, Exception : Maximum number of jobs supported is  100 .")


@integration
def test_an_array_of_10000_children_is_accepted(aws, stack, jd):
    # API_ArrayProperties → size: up to 10,000; submitted to a DISABLED queue so the children never run
    batch = aws["batch"]
    held = batch.create_job_queue(jobQueueName=_name("held"), state="DISABLED", priority=1,
                                  computeEnvironmentOrder=[{"order": 1, "computeEnvironment": stack["ce"]}])
    sub = batch.submit_job(jobName="big", jobQueue=held["jobQueueArn"], jobDefinition=jd,
                           arrayProperties={"size": 10_000})
    assert batch.describe_jobs(jobs=[sub["jobId"]])["jobs"][0]["arrayProperties"]["size"] == 10_000
    assert batch.describe_jobs(jobs=[f"{sub['jobId']}:9999"])["jobs"][0]["arrayProperties"]["index"] == 9999


# ------------------------------------------------------------------------------ throttling

def test_submit_job_throttle_is_a_token_bucket_on_its_clock():
    """AWS Batch: 50 SubmitJob calls per second (service_limits.html); deterministic on an injected clock."""
    now = [100.0]
    bucket = SubmitJobThrottle(rate=50, clock=lambda: now[0])
    for _ in range(50):
        bucket()
    with pytest.raises(TooManyRequestsException):
        bucket()
    now[0] += 0.1  # 5 tokens back
    for _ in range(5):
        bucket()
    with pytest.raises(TooManyRequestsException):
        bucket()
    now[0] += 60  # never more than the burst
    accepted = 0
    for _ in range(60):
        try:
            bucket()
            accepted += 1
        except TooManyRequestsException:
            pass
    assert accepted == 50
    assert bucket.stats() == {"accepted": 105, "throttled": 12, "rate_per_second": 50.0, "burst": 50.0}


@integration
def test_emulator_submit_job_throttle_totals(tmp_path):
    """End to end, asserting totals rather than timing: at 0.5 calls/s (burst 1) every call after the
    first within 2 s is throttled, and the counters add up to the calls made."""
    with emulator_process(tmp_path, "--execution", "hold", "--submit-job-rate", "0.5") as emu:
        clients = _clients(emu, retries={"total_max_attempts": 1})
        batch = clients["batch"]
        jd_arn = batch.register_job_definition(
            jobDefinitionName="t", type="container",
            containerProperties={"image": "busybox", "resourceRequirements": [
                {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]})["jobDefinitionArn"]
        service = clients["iam"].create_role(RoleName="svc", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        ce = batch.create_compute_environment(computeEnvironmentName="uce", type="UNMANAGED", state="ENABLED",
                                              serviceRole=service)["computeEnvironmentArn"]
        queue = batch.create_job_queue(jobQueueName="q", state="ENABLED", priority=1,
                                       computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
        time.sleep(2.1)  # a full bucket (one token)
        outcomes = []
        started = time.monotonic()
        for i in range(4):
            try:
                batch.submit_job(jobName=f"j{i}", jobQueue=queue, jobDefinition=jd_arn)
                outcomes.append("accepted")
            except ClientError as exc:
                assert exc.response["Error"] == {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}
                assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 429
                outcomes.append("throttled")
        elapsed = time.monotonic() - started
        assert outcomes[0] == "accepted"
        assert outcomes.count("accepted") <= 1 + int(elapsed * 0.5)
        deadline = time.monotonic() + 5
        stats = {}
        while time.monotonic() < deadline:
            stats = json.loads((emu.work_dir / "stats.json").read_text())["submit_job"]
            if stats["accepted"] + stats["throttled"] == 4:
                break
            time.sleep(0.2)
        assert (stats["accepted"], stats["throttled"]) == (outcomes.count("accepted"), outcomes.count("throttled"))


def test_state_is_optional_when_creating_a_compute_environment_and_a_job_queue(aws, stack):
    """CreateComputeEnvironment and CreateJobQueue take ``state`` as optional (API reference:
    Required: No); plain moto stores no state for the CE and refuses the queue. Omitted, both are ENABLED."""
    batch = aws["batch"]
    ce = batch.describe_compute_environments(computeEnvironments=[stack["ce"]])["computeEnvironments"][0]
    unmanaged = batch.create_compute_environment(computeEnvironmentName=_name("nostate"), type="UNMANAGED",
                                                 serviceRole=ce["serviceRole"])["computeEnvironmentArn"]
    queue = batch.create_job_queue(jobQueueName=_name("nostate"), priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": unmanaged}])["jobQueueArn"]
    try:
        assert batch.describe_compute_environments(computeEnvironments=[unmanaged])[
            "computeEnvironments"][0]["state"] == "ENABLED"
        assert batch.describe_job_queues(jobQueues=[queue])["jobQueues"][0]["state"] == "ENABLED"
    finally:
        batch.update_job_queue(jobQueue=queue, state="DISABLED")
        batch.delete_job_queue(jobQueue=queue)
