"""spotkit's decisions as EventBridge events (functions/resubmit/publish.py, spotkit.core.decisions).

Against moto: the function handles SQS batches of AWS-shaped FAILED events; its PutEvents go to
moto's default bus, where a rule (source ``spotkit``) delivers them to an SQS queue the test reads,
so what is asserted is what a subscriber's rule receives. Every event is validated against
schemas/decision-event.schema.json, and the committed samples (tests/events/decisions/) against the
schema and against the shape of what the function really produced.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import jsonschema
import pytest
from botocore.exceptions import ClientError
from conftest import LambdaContext, job_ids
from fidelity import shapes

sys.path.insert(0, str(Path(__file__).resolve().parent / "fidelity"))

REGION = "us-east-1"
REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "schemas" / "decision-event.schema.json").read_text())
SAMPLES = REPO / "tests" / "events" / "decisions"
LINEAGE = "spotkit:lineage"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:spotkit-resubmit-events"


@pytest.fixture
def subscriber(aws, monkeypatch):
    """A rule on the default bus for ``source: spotkit`` -> an SQS queue; returns ``read()``."""
    from moto.events.utils import EventTemplateParser
    from spotkit.emulator.patches import EVENTBRIDGE_DELIVERED_TEMPLATE

    monkeypatch.setattr(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", EVENTBRIDGE_DELIVERED_TEMPLATE)
    monkeypatch.setenv("SPOTKIT_DECISION_EVENT_BUS", "default")
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="decisions")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="spotkit-decisions", EventPattern=json.dumps({"source": ["spotkit"]}))
    events.put_targets(Rule="spotkit-decisions", Targets=[{"Id": "q", "Arn": arn}])

    def read() -> list[dict]:
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages") or []
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    return read


@pytest.fixture
def put_events_calls(resubmit_app):
    """How many PutEvents calls the function's EventBridge client made."""
    import publish

    calls = []
    publish._client().meta.events.register("before-call.events.PutEvents", lambda **kw: calls.append(kw))
    return calls


def sqs_batch(*events: dict) -> dict:
    return {"Records": [{
        "messageId": f"m-{i}", "receiptHandle": f"r-{i}", "body": json.dumps(ev),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000",
                       "SenderId": "AIDA", "ApproximateFirstReceiveTimestamp": "1700000000000"},
        "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs", "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION} for i, ev in enumerate(events)]}


def by_type(received: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for ev in received:
        out.setdefault(ev["detail-type"], []).append(ev)
    return out


def test_a_mixed_batch_publishes_one_event_per_decision_in_one_put_events_call(
        resubmit_app, subscriber, put_events_calls, failed_job):
    reclaimed = failed_job(tags={"team": "quant"})
    exited = failed_job("exit_code")
    spent = failed_job(tags={LINEAGE: "count=3 original=0f0f0f0f previous=0e0e0e0e"})
    foreign = {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}
    answer = resubmit_app.handler(sqs_batch(reclaimed, exited, spent, foreign), LambdaContext())

    assert answer == {"batchItemFailures": []}
    assert len(put_events_calls) == 1
    received = subscriber()
    for ev in received:
        jsonschema.validate(ev, SCHEMA)
    got = by_type(received)
    assert sorted(got) == ["Job Not Resubmitted", "Job Resubmitted", "Resubmission Budget Exhausted"]
    [resubmitted] = got["Job Resubmitted"]
    assert resubmitted["source"] == "spotkit"
    assert resubmitted["detail"]["jobId"] == reclaimed["detail"]["jobId"]
    assert resubmitted["detail"]["reasonClass"] == "reclaim"
    new = resubmitted["detail"]["resubmission"]
    assert new["fallback"] is False and new["revisionFrom"] is None and new["jobId"] != reclaimed["detail"]["jobId"]
    assert resubmitted["resources"] == [reclaimed["detail"]["jobArn"], new["jobArn"]]
    assert resubmitted["detail"]["batchEventId"] == reclaimed["id"]
    [skipped] = got["Job Not Resubmitted"]
    assert skipped["detail"]["jobId"] == exited["detail"]["jobId"]
    assert skipped["detail"]["reasonClass"] == "exit_code"
    assert skipped["detail"]["exitCode"] == exited["detail"]["container"]["exitCode"]
    assert skipped["detail"]["logStreamName"] == exited["detail"]["container"]["logStreamName"]
    [budget] = got["Resubmission Budget Exhausted"]
    assert budget["detail"]["lineage"] == {"originalJobId": "0f0f0f0f", "previousJobId": "0e0e0e0e", "count": 3}
    assert budget["detail"]["maxResubmissions"] == 3


def test_a_not_resubmitted_event_reports_the_lineage_of_a_resubmitted_job(resubmit_app, subscriber, failed_job):
    exited = failed_job("exit_code", tags={LINEAGE: "count=1 original=first previous=first"})
    resubmit_app.handler(sqs_batch(exited), LambdaContext())
    [ev] = subscriber()
    assert ev["detail-type"] == "Job Not Resubmitted"
    assert ev["detail"]["lineage"] == {"originalJobId": "first", "previousJobId": "first", "count": 1}


def test_a_fallback_resubmission_is_its_own_detail_type(resubmit_app, subscriber, failed_job, monkeypatch,
                                                        batch_resources):
    monkeypatch.setenv("SPOTKIT_FALLBACK_JOB_QUEUE", batch_resources.job_queue_arn)
    monkeypatch.setenv("SPOTKIT_FALLBACK_AFTER_LOSSES", "2")
    ev = failed_job(tags={LINEAGE: "count=1 original=first previous=first"})
    resubmit_app.handler(sqs_batch(ev), LambdaContext())
    [got] = subscriber()
    jsonschema.validate(got, SCHEMA)
    assert got["detail-type"] == "Job Fell Back To On-Demand"
    assert got["detail"]["resubmission"]["fallback"] is True


def test_a_duplicate_delivery_publishes_nothing_more(resubmit_app, subscriber, failed_job, monkeypatch):
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName="idem", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    monkeypatch.setenv("SPOTKIT_IDEMPOTENCY_TABLE", "idem")
    ev = failed_job()
    resubmit_app.handler(sqs_batch(ev), LambdaContext())
    resubmit_app.handler(sqs_batch(ev), LambdaContext())
    assert [e["detail-type"] for e in subscriber()] == ["Job Resubmitted"]


def test_publishing_off_makes_no_put_events_call(resubmit_app, put_events_calls, failed_job, monkeypatch):
    monkeypatch.delenv("SPOTKIT_DECISION_EVENT_BUS", raising=False)
    assert resubmit_app.handler(sqs_batch(failed_job()), LambdaContext()) == {"batchItemFailures": []}
    assert put_events_calls == []


class FlakyEvents:
    """An EventBridge client whose PutEvents fails chosen entries, or raises, per call."""

    def __init__(self, plan):
        self.plan, self.calls = list(plan), []

    def put_events(self, Entries):
        self.calls.append(len(Entries))
        step = self.plan.pop(0) if self.plan else "ok"
        if step == "raise":
            raise ClientError({"Error": {"Code": "InternalException", "Message": "boom"}}, "PutEvents")
        failed = step if isinstance(step, int) else 0
        return {"FailedEntryCount": failed, "Entries": [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"} if i < failed else {"EventId": f"e{i}"}
            for i in range(len(Entries))]}


def queued(publish, n: int) -> None:
    from spotkit.core.decisions import DetailType

    for i in range(n):
        publish.record(DetailType.RESUBMITTED, {"jobId": f"j{i}", "jobArn": f"arn:aws:batch:{REGION}:1:job/j{i}"})


def test_failed_entries_are_retried_and_what_stays_failed_is_counted(resubmit_app, monkeypatch, caplog):
    import publish

    monkeypatch.setenv("SPOTKIT_DECISION_EVENT_BUS", "default")
    queued(publish, 12)
    client = FlakyEvents([3, 1])  # first call: 3 of 10 fail; their retry: 1 fails; then ok; 2nd chunk ok
    report = publish.flush(client=client, sleep=lambda s: None)
    assert report == publish.FlushReport(published=12, failed=0, calls=4)
    assert client.calls == [10, 3, 1, 2]

    queued(publish, 2)
    report = publish.flush(client=FlakyEvents([2, 2, 2]), sleep=lambda s: None)
    assert report.failed == 2 and report.published == 0 and report.calls == 3
    [error] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert error.getMessage().startswith("decision events not published")
    assert [e["error_code"] for e in error.failed_entries] == ["ThrottlingException"] * 2
    from telemetry import metrics

    assert metrics.metric_set["decision-events-failed"]["Value"] == [2.0]


def test_put_events_errors_never_fail_the_resubmission(resubmit_app, monkeypatch, failed_job, batch_resources):
    import publish

    monkeypatch.setenv("SPOTKIT_DECISION_EVENT_BUS", "default")
    monkeypatch.setattr(publish, "_client", lambda: FlakyEvents(["raise"] * 9))
    ev = failed_job()
    assert resubmit_app.handler(sqs_batch(ev), LambdaContext()) == {"batchItemFailures": []}
    batch = boto3.client("batch", region_name=REGION)
    assert len(job_ids(batch, batch_resources.job_queue_arn)) == 2  # the original and its resubmission


def test_retries_stop_before_the_invocation_runs_out(resubmit_app, monkeypatch):
    import publish

    monkeypatch.setenv("SPOTKIT_DECISION_EVENT_BUS", "default")
    queued(publish, 1)
    report = publish.flush(lambda: 2.0, client=FlakyEvents([1, 1, 1]), sleep=lambda s: None)
    assert report.calls == 1 and report.failed == 1


def test_samples_are_valid_and_shaped_like_what_the_function_publishes(resubmit_app, subscriber, failed_job):
    resubmit_app.handler(sqs_batch(failed_job(tags={"team": "quant"}), failed_job("exit_code")), LambdaContext())
    produced = by_type(subscriber())
    samples = sorted(SAMPLES.glob("*.json"))
    types = set()
    for path in samples:
        sample = json.loads(path.read_text())
        jsonschema.validate(sample, SCHEMA)
        types.add(sample["detail-type"])
        if sample["detail-type"] in produced:
            assert shapes.compare(sample, produced[sample["detail-type"]][0],
                                  ignore=["detail.exitCode", "detail.logStreamName", "detail.logGroupName",
                                          "detail.startedAt", "detail.stoppedAt", "detail.arrayIndex",
                                          "detail.arrayParentJobId", "detail.error",
                                          "detail.resubmission.arrayIndex", "detail.resubmission.revisionFrom",
                                          "detail.statusReason", "detail.maxResubmissions"]) == [], path.name
    assert types == set(SCHEMA["properties"]["detail-type"]["enum"]), "one sample per detail-type"


def test_the_schema_refuses_what_the_contract_forbids():
    sample = json.loads((SAMPLES / "job_resubmitted.json").read_text())
    bad = json.loads(json.dumps(sample))
    bad["detail"]["resubmission"]["fallback"] = True  # a fallback must say so in its detail-type
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)
    bad = json.loads(json.dumps(sample))
    bad["source"] = "aws.batch"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_samples_are_what_the_generator_makes():
    import decisions_spec  # tests/fidelity on sys.path below

    built = decisions_spec.build()
    assert sorted(built) == sorted(p.name for p in SAMPLES.glob("*.json"))
    for name, event in built.items():
        assert (SAMPLES / name).read_text() == decisions_spec.render(event), f"regenerate {name}"
