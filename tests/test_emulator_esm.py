"""The emulator's SubmitJob throttling and SQS → Lambda event source mappings, through boto3.

One emulator process for the module (started like tests/test_emulator.py's, with a low
``--submit-job-rate``); each test builds what it needs with unique names.
"""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from conftest import emulator_clients, emulator_process
from spotkit.emulator.esm import failed_item_ids
from spotkit.emulator.throttle import SubmitJobThrottle, TooManyRequestsException
from test_emulator import _name, _zip, make_stack

RATE = 1  # SubmitJob calls per second in this module's emulator: a 1 s window per call, not 0.2 s (busy CI)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with emulator_process(tmp_path_factory.mktemp("emulator-esm"), "--execution", "hold", "--tick", "0.1",
                          "--submit-job-rate", str(RATE)) as emulator:
        yield emulator


def _clients(emulator, **config):
    return emulator_clients(emulator.endpoint, ("batch", "ec2", "iam", "sqs", "lambda"), **config)


@pytest.fixture(scope="module")
def aws(emulator):
    return _clients(emulator)


# ------------------------------------------------------------------ SubmitJob throttling

def test_token_bucket_refills_at_the_rate():
    now = [0.0]
    bucket = SubmitJobThrottle(rate=2, clock=lambda: now[0])
    bucket()
    bucket()
    with pytest.raises(TooManyRequestsException):
        bucket()
    now[0] += 0.5  # one token back
    bucket()
    with pytest.raises(TooManyRequestsException):
        bucket()
    assert bucket.stats() == {"accepted": 3, "throttled": 2, "rate_per_second": 2.0, "burst": 2.0}
    unlimited = SubmitJobThrottle(rate=0)
    for _ in range(1000):
        unlimited()
    assert unlimited.accepted == 1000


def _stack(aws):
    ec2, iam = aws["ec2"], aws["iam"]
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    network = {
        "subnet": ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"],
        "sg": ec2.create_security_group(GroupName=_name("sg"), Description="batch", VpcId=vpc)["GroupId"],
        "service": iam.create_role(RoleName=_name("svc"), AssumeRolePolicyDocument="{}")["Role"]["Arn"],
        "fleet": iam.create_role(RoleName=_name("fleet"), AssumeRolePolicyDocument="{}")["Role"]["Arn"],
        "profile": iam.create_instance_profile(InstanceProfileName=_name("ecs"))["InstanceProfile"]["Arn"],
    }
    return make_stack(aws, network)


def _stats(emulator) -> dict:
    return json.loads((emulator.work_dir / "stats.json").read_text())


@pytest.mark.integration  # starts an emulator process
def test_submit_job_over_the_rate_is_answered_with_too_many_requests(aws, emulator):
    stack = _stack(aws)
    no_retry = _clients(emulator, retries={"total_max_attempts": 1})["batch"]
    time.sleep(1.5)  # a full bucket
    accepted, throttled = 0, []
    started = time.monotonic()
    for i in range(4 * RATE):
        try:
            no_retry.submit_job(jobName=f"burst-{i}", jobQueue=stack["queue"], jobDefinition=stack["jd"])
            accepted += 1
        except ClientError as exc:
            throttled.append(exc.response)
    elapsed = time.monotonic() - started
    assert RATE <= accepted <= RATE + elapsed * RATE + 1
    assert throttled, "no call was throttled"
    error = throttled[0]
    assert error["Error"] == {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429

    deadline = time.monotonic() + 5
    while _stats(emulator)["submit_job"]["throttled"] < len(throttled) and time.monotonic() < deadline:
        time.sleep(0.2)
    stats = _stats(emulator)["submit_job"]
    assert stats["throttled"] >= len(throttled) and stats["accepted"] >= accepted
    assert stats["rate_per_second"] == RATE


@pytest.mark.integration  # starts an emulator process
def test_sdk_standard_retry_treats_it_as_throttling(aws, emulator):
    stack = _stack(aws)
    batch = _clients(emulator, retries={"mode": "standard", "max_attempts": 10})["batch"]
    retries = 0
    for i in range(3 * RATE):
        out = batch.submit_job(jobName=f"retried-{i}", jobQueue=stack["queue"], jobDefinition=stack["jd"])
        retries += out["ResponseMetadata"]["RetryAttempts"]
    # standard mode retries only transient errors, throttling errors and modeled retryable ones
    assert retries > 0


# ------------------------------------------------------------------ SQS event source mappings

def test_partial_batch_response_rules():
    ids = ["m1", "m2"]
    assert failed_item_ids("", ids) == (set(), "")
    assert failed_item_ids("null", ids) == (set(), "")
    assert failed_item_ids('{"batchItemFailures": []}', ids) == (set(), "")
    assert failed_item_ids('{"batchItemFailures": null}', ids) == (set(), "")
    assert failed_item_ids('{"batchItemFailures": [{"itemIdentifier": "m2"}]}', ids) == ({"m2"}, "")
    for whole_batch_failed in ("not json", '{"batchItemFailures": [{"itemIdentifier": ""}]}',
                               '{"batchItemFailures": [{"itemIdentifier": null}]}',
                               '{"batchItemFailures": [{"id": "m1"}]}',
                               '{"batchItemFailures": [{"itemIdentifier": "m3"}]}'):
        assert failed_item_ids(whole_batch_failed, ids)[0] is None, whole_batch_failed


def _queue(sqs, **attributes):
    url = sqs.create_queue(QueueName=_name("q"), Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _function(aws, source: str, env: dict) -> str:
    role = aws["iam"].create_role(RoleName=_name("fn"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    # the emulator enforces the execution role's policies (docs/emulator.md, "IAM"): allow what the handler calls
    aws["iam"].put_role_policy(RoleName=role.split("/")[-1], PolicyName="sqs", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
    return aws["lambda"].create_function(FunctionName=_name("fn"), Runtime="python3.11", Role=role,
                                         Handler="app.handler", Code={"ZipFile": _zip(source)},
                                         Environment={"Variables": env})["FunctionName"]


RECORDING_HANDLER = (
    "import boto3, json, os\n"
    "def handler(event, context):\n"
    "    boto3.client('sqs').send_message(QueueUrl=os.environ['SEEN_URL'], MessageBody=json.dumps(event))\n"
    "    if os.environ.get('FAIL'):\n"
    "        raise RuntimeError('cannot process')\n"
    "    return {'batchItemFailures': [{'itemIdentifier': r['messageId']}\n"
    "                                  for r in event['Records'] if r['body'] == 'poison']}\n")


def _counts(sqs, url) -> tuple:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _events(sqs, seen_url) -> list:
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=seen_url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=seen_url, ReceiptHandle=m["ReceiptHandle"])


def test_report_batch_item_failures_keeps_the_failed_record_until_the_dlq(aws):
    sqs = aws["sqs"]
    dlq_url, dlq_arn = _queue(sqs)
    url, arn = _queue(sqs, VisibilityTimeout=1,
                      RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    seen_url, _ = _queue(sqs)
    fn = _function(aws, RECORDING_HANDLER, {"SEEN_URL": seen_url})
    for body in ("first", "poison", "second"):
        sqs.send_message(QueueUrl=url, MessageBody=body,
                         MessageAttributes={"kind": {"DataType": "String", "StringValue": body}})
    time.sleep(0.5)
    assert _counts(sqs, url) == (3, 0)  # moto's own synchronous delivery on SendMessage is off
    mapping = aws["lambda"].create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=10,
                                                        FunctionResponseTypes=["ReportBatchItemFailures"])
    assert mapping["State"] == "Enabled"

    deadline = time.monotonic() + 20
    while _counts(sqs, dlq_url)[0] < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]
    assert _counts(sqs, url) == (0, 0)  # the others were deleted after the first invocation

    events = _events(sqs, seen_url)
    first = events[0]["Records"]
    assert sorted(r["body"] for r in first) == ["first", "poison", "second"]
    record = next(r for r in first if r["body"] == "first")
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"] == "8b04d5e3775d298e78455efc5ca404d5"  # md5("first")
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {"stringValue": "first", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert record["receiptHandle"]
    # the poison record came back alone (maxReceiveCount 2), then went to the DLQ
    assert [[r["body"] for r in e["Records"]] for e in events[1:]] == [["poison"]]
    assert events[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_function_error_deletes_nothing(aws):
    sqs = aws["sqs"]
    url, arn = _queue(sqs, VisibilityTimeout=1)
    seen_url, _ = _queue(sqs)
    fn = _function(aws, RECORDING_HANDLER, {"SEEN_URL": seen_url, "FAIL": "1"})
    for body in ("one", "two"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    mapping = aws["lambda"].create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=10)

    invocations = []
    deadline = time.monotonic() + 20
    while len(invocations) < 2 and time.monotonic() < deadline:
        invocations += _events(sqs, seen_url)
        time.sleep(0.2)
    assert len(invocations) >= 2, "the batch was not retried after the visibility timeout"
    assert all(sorted(r["body"] for r in e["Records"]) == ["one", "two"] for e in invocations)
    aws["lambda"].update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    time.sleep(1.5)  # in-flight invocations end, the visibility timeout passes
    left: dict = {}
    deadline = time.monotonic() + 10
    while len(left) < 2 and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                     AttributeNames=["ApproximateReceiveCount"]).get("Messages", []):
            left.setdefault(m["MessageId"], m)
        time.sleep(0.2)
    assert sorted(m["Body"] for m in left.values()) == ["one", "two"]
    assert all(int(m["Attributes"]["ApproximateReceiveCount"]) >= 3 for m in left.values())


def test_batching_window_gathers_records_into_one_invocation(aws):
    sqs = aws["sqs"]
    url, arn = _queue(sqs, VisibilityTimeout=30)
    seen_url, _ = _queue(sqs)
    fn = _function(aws, RECORDING_HANDLER, {"SEEN_URL": seen_url})
    aws["lambda"].create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=10,
                                              MaximumBatchingWindowInSeconds=2)
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
        time.sleep(0.3)
    events = []
    deadline = time.monotonic() + 15
    while not events and time.monotonic() < deadline:
        events = _events(sqs, seen_url)
        time.sleep(0.2)
    assert [sorted(r["body"] for r in e["Records"]) for e in events] == [["a", "b", "c"]]
    deadline = time.monotonic() + 5
    while _counts(sqs, url) != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _counts(sqs, url) == (0, 0)


def test_a_mapping_made_with_the_function_arn_is_listed_by_name_and_by_arn(aws):
    """ListEventSourceMappings takes FunctionName as a name, an ARN or a partial ARN (Lambda API
    reference, ListEventSourceMappings); hashicorp/aws 5.x creates the kit's mapping with the ARN."""
    lam = aws["lambda"]
    _, arn = _queue(aws["sqs"])
    fn = _function(aws, RECORDING_HANDLER, {"SEEN_URL": "unused"})
    fn_arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn_arn, BatchSize=1, Enabled=False)
    account = fn_arn.split(":")[4]
    for given in (fn, fn_arn, f"{account}:function:{fn}"):
        listed = lam.list_event_source_mappings(FunctionName=given)["EventSourceMappings"]
        assert [m["UUID"] for m in listed] == [mapping["UUID"]], given
        assert listed[0]["FunctionArn"] == fn_arn
    assert lam.list_event_source_mappings(FunctionName=f"{fn}-other")["EventSourceMappings"] == []
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_an_sqs_mapping_without_a_batching_window_has_aws_default_0(aws):
    """Lambda API reference, CreateEventSourceMapping: MaximumBatchingWindowInSeconds "Default
    (Kinesis, DynamoDB, Amazon SQS event sources): 0" (hashicorp/aws 5.x sends no 0)."""
    lam = aws["lambda"]
    _, arn = _queue(aws["sqs"])
    fn = _function(aws, RECORDING_HANDLER, {"SEEN_URL": "unused"})
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=10, Enabled=False)
    assert mapping["MaximumBatchingWindowInSeconds"] == 0
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["MaximumBatchingWindowInSeconds"] == 0
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
