"""The emulator's Batch-on-Spot data plane, asserted through the public AWS APIs (boto3).

One emulator process per module on a free port (a separate process, as users run it, so moto's
global state and the emulator's hooks never leak into other tests); each test builds what it
needs with unique names. Events are observed the way a user would: an EventBridge rule with an
SQS target.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile

import boto3
import pytest
from conftest import emulator_process

pytestmark = pytest.mark.integration  # starts an emulator process

#: The module emulator's --time-scale: AWS's minimum timeout of 60 s fires after 1.2 s, the 30 s
#: SIGTERM → SIGKILL grace lasts 0.6 s.
TIME_SCALE = 0.02


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    """``python -m spotkit.emulator.server`` on a free port with short timings; yields its endpoint,
    work folder and log file."""
    with emulator_process(tmp_path_factory.mktemp("emulator"), "--tick", "0.1", "--dwell-seconds", "0.2",
                          "--scale-delay-seconds", "0.3", "--boot-seconds", "0.3", "--idle-seconds", "2",
                          "--lambda-backoff-seconds", "0.1", "--time-scale", str(TIME_SCALE)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def aws(emulator):
    kw = dict(endpoint_url=emulator.endpoint, region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    return {n: boto3.client(n, **kw) for n in ("batch", "ec2", "ecs", "iam", "events", "sqs", "lambda")}


@pytest.fixture(scope="module")
def network(aws):
    ec2 = aws["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
    iam = aws["iam"]
    service = iam.create_role(RoleName=_name("svc"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fleet = iam.create_role(RoleName=_name("fleet"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=_name("ecs"))["InstanceProfile"]["Arn"]
    return {"subnet": subnet, "sg": sg, "service": service, "fleet": fleet, "profile": profile}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_stack(aws, network, ce_type="SPOT", max_vcpus=8, retry=None, command=None, allocation="BEST_FIT",
               image="busybox"):
    """CE + queue + job definition; returns names/ARNs."""
    batch = aws["batch"]
    resources = {"type": ce_type, "minvCpus": 0, "maxvCpus": max_vcpus, "instanceTypes": ["m5.large"],
                 "subnets": [network["subnet"]], "securityGroupIds": [network["sg"]],
                 "instanceRole": network["profile"], "tags": {"team": "data"}}
    if ce_type == "SPOT":
        resources["spotIamFleetRole"] = network["fleet"]
        if allocation:
            resources["allocationStrategy"] = allocation
    ce = batch.create_compute_environment(computeEnvironmentName=_name("ce"), type="MANAGED", state="ENABLED",
                                          serviceRole=network["service"], computeResources=resources)
    queue = batch.create_job_queue(jobQueueName=_name("q"), state="ENABLED", priority=1,
                                   computeEnvironmentOrder=[{"order": 1,
                                                             "computeEnvironment": ce["computeEnvironmentArn"]}])
    props = {"image": image, "command": command or ["sh", "-c", "sleep Ref::seconds"],
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]}
    kwargs = {"retryStrategy": retry} if retry else {}
    jd = aws["batch"].register_job_definition(jobDefinitionName=_name("jd"), type="container",
                                              containerProperties=props, parameters={"seconds": "60"}, **kwargs)
    return {"ce": ce["computeEnvironmentArn"], "ce_name": ce["computeEnvironmentName"],
            "queue": queue["jobQueueArn"], "queue_name": queue["jobQueueName"], "jd": jd["jobDefinitionArn"]}


def wait_job(batch, job_id, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if predicate(job):
            return job, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never matched; statuses seen {seen}; last {job}")


def instance_of(aws, job):
    ce_arn = None
    for ce in aws["batch"].describe_compute_environments()["computeEnvironments"]:
        cluster = ce.get("ecsClusterArn")
        if cluster and cluster.split("/")[-1] in job["container"]["containerInstanceArn"]:
            ce_arn = cluster
    ci = aws["ecs"].describe_container_instances(cluster=ce_arn,
                                                 containerInstances=[job["container"]["containerInstanceArn"]])
    return ci["containerInstances"][0]["ec2InstanceId"]


def event_queue(aws, pattern):
    """An SQS queue receiving every event that matches ``pattern`` on the default bus."""
    name = _name("events")
    url = aws["sqs"].create_queue(QueueName=name)["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = _name("rule")
    aws["events"].put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
    aws["events"].put_targets(Rule=rule, Targets=[{"Id": "sqs", "Arn": arn}])
    return url


def drain(aws, url, until=None, timeout=20.0):
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for m in msgs:
            out.append(json.loads(m["Body"]))
            aws["sqs"].delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if until and until(out):
            break
        if not msgs:
            time.sleep(0.1)
    return out


def test_job_runs_its_command_through_every_state_and_emits_events(aws, network, emulator):
    stack = make_stack(aws, network, command=["sh", "-c",
                                              'test "$AWS_BATCH_JOB_ATTEMPT" = 1 && test -n "$AWS_BATCH_CE_NAME" '
                                              '&& test "$GREETING" = hi && exit Ref::code'])
    url = event_queue(aws, {"source": ["aws.batch"], "detail": {"jobQueue": [stack["queue"]]}})
    ok = aws["batch"].submit_job(jobName="ok", jobQueue=stack["queue"], jobDefinition=stack["jd"],
                                 parameters={"code": "0"},
                                 containerOverrides={"environment": [{"name": "GREETING", "value": "hi"}]})
    job, seen = wait_job(aws["batch"], ok["jobId"], lambda j: j["status"] in ("SUCCEEDED", "FAILED"))
    assert job["status"] == "SUCCEEDED", job
    assert seen[-1] == "SUCCEEDED"
    events = drain(aws, url, until=lambda ev: any(e["detail"]["status"] == "SUCCEEDED" for e in ev))
    statuses = [e["detail"]["status"] for e in events if e["detail"]["jobId"] == ok["jobId"]]
    assert statuses == ["PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]
    assert all(e["detail-type"] == "Batch Job State Change" and e["resources"] == [job["jobArn"]] for e in events)
    assert job["container"]["containerInstanceArn"].startswith("arn:aws:ecs:")
    assert job["attempts"][0]["container"]["exitCode"] == 0


def test_an_image_that_cannot_be_pulled_fails_to_start(aws, network):
    """Registry host under .invalid (RFC 6761: never resolves): Batch's "Task failed to start" with the
    ECS agent's CannotPullContainerError as the container reason; the job never RUNS."""
    stack = make_stack(aws, network, image="registry.example.invalid/team/app:1", command=["sh", "-c", "exit 0"])
    url = event_queue(aws, {"source": ["aws.batch"], "detail": {"jobQueue": [stack["queue"]]}})
    sub = aws["batch"].submit_job(jobName="pull", jobQueue=stack["queue"], jobDefinition=stack["jd"])
    job, seen = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] in ("SUCCEEDED", "FAILED"))
    assert job["status"] == "FAILED" and job["statusReason"] == "Task failed to start"
    assert "RUNNING" not in seen
    [attempt] = job["attempts"]
    assert attempt["container"]["reason"].startswith("CannotPullContainerError: ")
    assert "registry.example.invalid/team/app:1" in attempt["container"]["reason"]
    assert "exitCode" not in attempt["container"]
    events = drain(aws, url, until=lambda ev: any(e["detail"]["status"] == "FAILED" for e in ev))
    assert "RUNNING" not in [e["detail"]["status"] for e in events]
    failed = [e for e in events if e["detail"]["status"] == "FAILED"][0]
    from spotkit.core.classify import failure_class
    from spotkit.core.job import parse_event

    assert failure_class(parse_event(failed)) == "image_pull"


def test_nonzero_exit_fails_with_aws_reason_and_exit_code(aws, network):
    stack = make_stack(aws, network, command=["sh", "-c", "exit 3"])
    sub = aws["batch"].submit_job(jobName="bad", jobQueue=stack["queue"], jobDefinition=stack["jd"])
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] in ("SUCCEEDED", "FAILED"))
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Essential container in task exited"
    assert job["container"]["exitCode"] == 3


def test_attempt_duration_timeout(aws, network):
    stack = make_stack(aws, network)
    sub = aws["batch"].submit_job(jobName="slow", jobQueue=stack["queue"], jobDefinition=stack["jd"],
                                  timeout={"attemptDurationSeconds": 60},
                                  retryStrategy={"attempts": 3})  # timeouts are not retried
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "FAILED")
    assert job["statusReason"] == "Job attempt duration exceeded timeout"
    assert len(job["attempts"]) == 1
    assert job["attempts"][0]["stoppedAt"] - job["attempts"][0]["startedAt"] >= 60_000 * TIME_SCALE


def test_timed_out_attempt_gets_sigterm_then_sigkill_after_the_grace(aws, network, emulator):
    # ignores SIGTERM (writes a mark), so only SIGKILL after the stop timeout ends it
    stack = make_stack(aws, network, command=["sh", "-c", "trap 'echo term >> signals.txt' TERM; "
                                              "while true; do sleep 0.05; done"])
    sub = aws["batch"].submit_job(jobName="stubborn", jobQueue=stack["queue"], jobDefinition=stack["jd"],
                                  timeout={"attemptDurationSeconds": 60})
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "FAILED")
    assert job["statusReason"] == "Job attempt duration exceeded timeout"
    attempt = job["attempts"][0]
    assert attempt["container"]["exitCode"] == 137  # SIGKILL, as Docker reports it
    # ran for the timeout plus the 30 s grace (scaled)
    assert attempt["stoppedAt"] - attempt["startedAt"] >= (60_000 + 30_000) * TIME_SCALE
    marks = list((emulator.work_dir / "jobs").glob(f"{sub['jobId']}-1/signals.txt"))
    assert marks and marks[0].read_text().split() == ["term"]


def test_timed_out_attempt_that_handles_sigterm_ends_before_the_grace(aws, network):
    stack = make_stack(aws, network, command=["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.05; done"])
    sub = aws["batch"].submit_job(jobName="polite", jobQueue=stack["queue"], jobDefinition=stack["jd"],
                                  timeout={"attemptDurationSeconds": 60})
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "FAILED")
    assert job["statusReason"] == "Job attempt duration exceeded timeout"  # exit 0 after a timeout still fails
    assert job["attempts"][0]["container"]["exitCode"] == 0


def test_spot_ce_gets_a_maintain_fleet_and_host_loss_is_retried_natively(aws, network):
    retry = {"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "Host EC2*"},
                                               {"action": "EXIT", "onReason": "*"}]}
    stack = make_stack(aws, network, retry=retry)
    sub = aws["batch"].submit_job(jobName="long", jobQueue=stack["queue"], jobDefinition=stack["jd"])
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "RUNNING")
    instance = instance_of(aws, job)
    tags = {t["Key"]: t["Value"] for t in aws["ec2"].describe_instances(InstanceIds=[instance])[
        "Reservations"][0]["Instances"][0]["Tags"]}
    # AWS tags Batch's instances AWSBatchServiceTag=batch, the same for every CE (docs/emulator.md)
    assert tags["team"] == "data" and tags["AWSBatchServiceTag"] == "batch"
    fleet_id = tags["aws:ec2spot:fleet-request-id"]
    fleet = aws["ec2"].describe_spot_fleet_requests(SpotFleetRequestIds=[fleet_id])["SpotFleetRequestConfigs"][0]
    assert fleet["SpotFleetRequestConfig"]["Type"] == "maintain"
    assert fleet["SpotFleetRequestConfig"]["IamFleetRole"] == network["fleet"]
    assert fleet["SpotFleetRequestConfig"]["TargetCapacity"] == 2  # one m5.large = 2 vCPUs

    aws["ec2"].modify_spot_fleet_request(SpotFleetRequestId=fleet_id, TargetCapacity=0)
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: len(j["attempts"]) == 1 and j["status"] == "RUNNING")
    assert job["attempts"][0]["statusReason"] == f"Host EC2 (instance {instance}) terminated."
    assert instance_of(aws, job) != instance
    aws["batch"].terminate_job(jobId=sub["jobId"], reason="done")
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "FAILED")
    assert job["statusReason"] == "done" and len(job["attempts"]) == 2


def test_terminated_instance_without_retry_fails_the_job(aws, network):
    stack = make_stack(aws, network, ce_type="EC2")
    sub = aws["batch"].submit_job(jobName="od", jobQueue=stack["queue"], jobDefinition=stack["jd"])
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "RUNNING")
    instance = instance_of(aws, job)
    aws["ec2"].terminate_instances(InstanceIds=[instance])
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "FAILED")
    assert job["statusReason"] == f"Host EC2 (instance {instance}) terminated."


def test_exit_rule_stops_retries_on_code_errors(aws, network):
    retry = {"attempts": 3, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "Host EC2*"},
                                               {"action": "EXIT", "onReason": "*"}]}
    stack = make_stack(aws, network, retry=retry, command=["sh", "-c", "exit 1"])
    sub = aws["batch"].submit_job(jobName="code-bug", jobQueue=stack["queue"], jobDefinition=stack["jd"])
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "FAILED")
    assert len(job["attempts"]) == 1


def test_array_children_get_a_bare_integer_index_and_the_size(aws, network, emulator):
    stack = make_stack(aws, network, command=["sh", "-c", 'echo "$AWS_BATCH_JOB_ARRAY_INDEX" > index.txt; '
                                              'echo "$AWS_BATCH_JOB_ARRAY_SIZE" > size.txt'])
    sub = aws["batch"].submit_job(jobName="arr", jobQueue=stack["queue"], jobDefinition=stack["jd"],
                                  arrayProperties={"size": 3})
    parent, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] in ("SUCCEEDED", "FAILED"))
    assert parent["status"] == "SUCCEEDED"
    assert parent["arrayProperties"]["size"] == 3
    child = aws["batch"].describe_jobs(jobs=[f"{sub['jobId']}:2"])["jobs"][0]
    assert child["arrayProperties"]["index"] == 2
    outputs = sorted(p.read_text().strip() for p in (emulator.work_dir / "jobs").glob(
        f"{sub['jobId']}-*-1/index.txt"))
    assert outputs == ["0", "1", "2"]
    sizes = [p.read_text().strip() for p in (emulator.work_dir / "jobs").glob(f"{sub['jobId']}-*-1/size.txt")]
    assert sizes == ["3", "3", "3"]  # job_env_vars.html: AWS_BATCH_JOB_ARRAY_SIZE in array children


def test_single_jobs_get_no_array_variables(aws, network, emulator):
    stack = make_stack(aws, network, command=["sh", "-c", 'echo "${AWS_BATCH_JOB_ARRAY_SIZE-unset}" > size.txt'])
    sub = aws["batch"].submit_job(jobName="single", jobQueue=stack["queue"], jobDefinition=stack["jd"])
    wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "SUCCEEDED")
    assert (emulator.work_dir / "jobs" / f"{sub['jobId']}-1" / "size.txt").read_text().strip() == "unset"


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", source)
    return buf.getvalue()


def _queue(sqs):
    url = sqs.create_queue(QueueName=_name("q"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _wait_messages(sqs, url, timeout=30.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MaxNumberOfMessages=10).get(
            "Messages", [])
        if msgs:
            return msgs
        time.sleep(0.2)
    return []


BOOM_SOURCE = (
    "import boto3, json, os\n"
    "def handler(event, context):\n"
    "    if event['detail'].get('boom'):\n"
    "        raise RuntimeError('boom')\n"
    "    boto3.client('sqs').send_message(QueueUrl=os.environ['SEEN_URL'], MessageBody=json.dumps(event))\n"
    "    return {'ok': True}\n")


def _boom_function(aws, seen_url, **kwargs) -> dict:
    role = aws["iam"].create_role(RoleName=_name("fn"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    # the emulator enforces the execution role's policies (docs/emulator.md, "IAM"): allow what the handler calls
    aws["iam"].put_role_policy(RoleName=role.split("/")[-1], PolicyName="sqs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
    return aws["lambda"].create_function(FunctionName=_name("fn"), Runtime="python3.11", Role=role,
                                         Handler="app.handler", Code={"ZipFile": _zip(BOOM_SOURCE)},
                                         Environment={"Variables": {"SEEN_URL": seen_url}}, **kwargs)


def _lambda_rule(aws, fn_arn, target_dlq_arn, source) -> None:
    rule = _name("rule")
    aws["events"].put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    aws["events"].put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": fn_arn,
                                                   "DeadLetterConfig": {"Arn": target_dlq_arn}}])


def _failures(emulator, fn_name) -> list:
    return [line for line in emulator.log.read_text().splitlines()
            if fn_name in line and "failed: RuntimeError: boom" in line]


def test_lambda_target_function_errors_go_to_the_functions_dlq_not_the_targets(aws, emulator):
    sqs = aws["sqs"]
    seen_url, _ = _queue(sqs)
    target_dlq_url, target_dlq_arn = _queue(sqs)
    fn_dlq_url, fn_dlq_arn = _queue(sqs)
    fn = _boom_function(aws, seen_url, DeadLetterConfig={"TargetArn": fn_dlq_arn})
    source = f"test.{_name('fn-dlq')}"
    _lambda_rule(aws, fn["FunctionArn"], target_dlq_arn, source)
    put = aws["events"].put_events(Entries=[
        {"Source": source, "DetailType": "t", "Detail": json.dumps({"n": 1})},
        {"Source": source, "DetailType": "t", "Detail": json.dumps({"boom": True})}])
    assert put["FailedEntryCount"] == 0
    delivered = drain(aws, seen_url, until=lambda out: len(out) >= 1)
    assert [e["detail"] for e in delivered] == [{"n": 1}]
    assert delivered[0]["time"].endswith("Z")
    dead = _wait_messages(sqs, fn_dlq_url)
    assert dead, "the failed event never reached the function's DLQ"
    assert json.loads(dead[0]["Body"])["detail"] == {"boom": True}
    attrs = dead[0]["MessageAttributes"]
    assert attrs["ErrorMessage"]["StringValue"] == "RuntimeError: boom"
    assert set(attrs) == {"RequestID", "ErrorCode", "ErrorMessage"}  # Lambda's DLQ attributes
    assert len(_failures(emulator, fn["FunctionName"])) == 3  # the first invocation + Lambda's 2 async retries
    assert sqs.receive_message(QueueUrl=target_dlq_url, WaitTimeSeconds=1).get("Messages", []) == []


def test_lambda_target_function_errors_without_a_function_dlq_are_dropped_not_target_dead_lettered(aws, emulator):
    sqs = aws["sqs"]
    seen_url, _ = _queue(sqs)
    target_dlq_url, target_dlq_arn = _queue(sqs)
    fn = _boom_function(aws, seen_url)
    source = f"test.{_name('drop')}"
    _lambda_rule(aws, fn["FunctionArn"], target_dlq_arn, source)
    aws["events"].put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"boom": True})}])
    deadline = time.monotonic() + 30
    while not any("dropped" in line and fn["FunctionName"] in line for line in emulator.log.read_text().splitlines()):
        assert time.monotonic() < deadline, "the drop was never logged"
        time.sleep(0.2)
    assert len(_failures(emulator, fn["FunctionName"])) == 3
    assert sqs.receive_message(QueueUrl=target_dlq_url, WaitTimeSeconds=1).get("Messages", []) == []


def test_lambda_target_on_failure_destination_gets_an_invocation_record(aws, emulator):
    sqs = aws["sqs"]
    seen_url, _ = _queue(sqs)
    _, target_dlq_arn = _queue(sqs)
    dest_url, dest_arn = _queue(sqs)
    fn = _boom_function(aws, seen_url)
    aws["lambda"].put_function_event_invoke_config(FunctionName=fn["FunctionName"], MaximumRetryAttempts=0,
                                                   DestinationConfig={"OnFailure": {"Destination": dest_arn}})
    source = f"test.{_name('dest')}"
    _lambda_rule(aws, fn["FunctionArn"], target_dlq_arn, source)
    aws["events"].put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"boom": True})}])
    msgs = _wait_messages(sqs, dest_url)
    assert msgs, "no invocation record reached the on-failure destination"
    record = json.loads(msgs[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1  # MaximumRetryAttempts=0
    assert record["requestPayload"]["detail"] == {"boom": True}
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_lambda_target_that_does_not_exist_goes_to_the_target_dlq(aws, emulator):
    sqs = aws["sqs"]
    target_dlq_url, target_dlq_arn = _queue(sqs)
    missing = f"arn:aws:lambda:us-east-1:123456789012:function:{_name('gone')}"
    source = f"test.{_name('gone')}"
    _lambda_rule(aws, missing, target_dlq_arn, source)
    aws["events"].put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"n": 2})}])
    dead = _wait_messages(sqs, target_dlq_url)
    assert dead and json.loads(dead[0]["Body"])["detail"] == {"n": 2}
    attrs = dead[0]["MessageAttributes"]
    assert attrs["ERROR_CODE"]["StringValue"] == "ResourceNotFoundException"
    assert attrs["TARGET_ARN"]["StringValue"] == missing


def test_disabled_ce_lets_running_jobs_finish_and_does_not_scale_out(aws, network):
    # AWS Batch API Reference, UpdateComputeEnvironment / ComputeEnvironmentDetail → state
    stack = make_stack(aws, network, max_vcpus=8)
    sub = aws["batch"].submit_job(jobName="dis", jobQueue=stack["queue"], jobDefinition=stack["jd"],
                                  parameters={"seconds": "3"})
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] == "RUNNING")
    instance = instance_of(aws, job)
    aws["batch"].update_compute_environment(computeEnvironment=stack["ce"], state="DISABLED")
    waiting = aws["batch"].submit_job(jobName="waits", jobQueue=stack["queue"], jobDefinition=stack["jd"],
                                      parameters={"seconds": "1"})
    job, _ = wait_job(aws["batch"], sub["jobId"], lambda j: j["status"] in ("SUCCEEDED", "FAILED"))
    assert job["status"] == "SUCCEEDED", job
    assert len(job["attempts"]) == 1 and instance_of(aws, job) == instance
    time.sleep(1.0)  # several scale delays
    assert aws["batch"].describe_jobs(jobs=[waiting["jobId"]])["jobs"][0]["status"] == "RUNNABLE"
    fleet_id = {t["Key"]: t["Value"] for t in aws["ec2"].describe_instances(InstanceIds=[instance])[
        "Reservations"][0]["Instances"][0]["Tags"]}["aws:ec2spot:fleet-request-id"]
    instances = [i["InstanceId"] for r in aws["ec2"].describe_instances(Filters=[
        {"Name": "tag:aws:ec2spot:fleet-request-id", "Values": [fleet_id]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"] for i in r["Instances"]]
    assert set(instances) <= {instance}  # no scale-out while DISABLED
    aws["batch"].update_compute_environment(computeEnvironment=stack["ce"], state="ENABLED")
    wait_job(aws["batch"], waiting["jobId"], lambda j: j["status"] == "SUCCEEDED")
