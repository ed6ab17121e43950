"""functions/resubmit fed by SQS (the event source mapping's batches), against moto.

Covers what only the buffered pipeline does: partial batch failures, duplicates inside and across
batches, SubmitJob throttling (TooManyRequestsException) with backoff, malformed records, reclaimed
array children regrouped into one array job, on-demand fallback after K Spot losses, the budget
alert for a group, and lost SubmitJob responses found again on redelivery.

Every event is AWS-shaped (``tags`` is the ``{"resourceArn": ...}`` placeholder, no ``timeout``) and
names a job that exists in moto: what it was submitted with comes from DescribeJobs.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from conftest import LambdaContext, all_jobs

REGION = "us-east-1"
TABLE = "spotkit-resubmit-idempotency"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:spotkit-resubmit-events"


@pytest.fixture
def batch():
    return boto3.client("batch", region_name=REGION)


@pytest.fixture
def table(aws, monkeypatch):
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    monkeypatch.setenv("SPOTKIT_IDEMPOTENCY_TABLE", TABLE)
    monkeypatch.setenv("SPOTKIT_IDEMPOTENCY_TTL_SECONDS", "86400")
    return ddb


@pytest.fixture
def event(load_event, batch_resources, batch):
    """``event(job_id=None, name="spot_reclaim", **detail)``: the AWS-shaped FAILED event of moto job
    ``job_id`` (e.g. an array child ``parent:N``), or of a new job submitted like the sample when None."""

    def _event(job_id: str | None = None, name: str = "spot_reclaim", **detail):
        ev = load_event(name, jobQueue=batch_resources.job_queue_arn,
                        jobDefinition=batch_resources.job_definition_arn, **detail)
        if job_id is None:
            job_id = batch.submit_job(jobName=ev["detail"]["jobName"], jobQueue=batch_resources.job_queue_arn,
                                      jobDefinition=batch_resources.job_definition_arn,
                                      containerOverrides={"command": ev["detail"]["container"]["command"]},
                                      tags={"team": "quant"})["jobId"]
        arn = f"arn:aws:batch:{REGION}:123456789012:job/{job_id}"
        ev["detail"].update(jobId=job_id, jobArn=arn, tags={"resourceArn": arn})
        ev["detail"].pop("timeout", None)
        ev["resources"] = [arn]
        return ev

    return _event


def resubmissions(batch, queue: str) -> list[dict]:
    """JobDetails of the jobs in ``queue`` that spotkit submitted (they carry the lineage tag)."""
    ids = [j["jobId"] for j in all_jobs(batch, queue)]
    details = [d for i in range(0, len(ids), 100) for d in batch.describe_jobs(jobs=ids[i:i + 100])["jobs"]]
    return [d for d in details if "spotkit:lineage" in (d.get("tags") or {})]


def sqs_batch(*events, receive_count: int = 1, bodies: list[str] | None = None) -> dict:
    """An SQS event as the event source mapping delivers it: one record per EventBridge event."""
    records = []
    for body in [json.dumps(e) for e in events] + list(bodies or []):
        records.append({
            "messageId": str(uuid.uuid4()), "receiptHandle": "rh", "body": body,
            "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1795269600000",
                           "SenderId": "AIDAEVENTS", "ApproximateFirstReceiveTimestamp": "1795269600001"},
            "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs", "eventSourceARN": QUEUE_ARN,
            "awsRegion": REGION})
    return {"Records": records}


def failed_ids(response: dict) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def emf(capsys) -> dict[str, float]:
    """Sum of every EMF metric printed so far (Powertools flushes them to stdout)."""
    totals: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            values = doc[metric["Name"]]
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(values if isinstance(values, list)
                                                                         else [values])
    return totals


def test_same_event_three_times_in_one_batch_and_again_later_submits_once(
        resubmit_app, table, event, batch, batch_resources, submit_requests, lambda_context, capsys):
    ev = event()
    first = resubmit_app.handler(sqs_batch(ev, ev, ev), lambda_context)
    later = resubmit_app.handler(sqs_batch(ev, receive_count=1), lambda_context)

    assert failed_ids(first) == failed_ids(later) == []
    assert len(submit_requests) == 1
    assert len(resubmissions(batch, batch_resources.job_queue_arn)) == 1
    assert emf(capsys) == {"resubmitted": 1, "duplicate": 3}


def test_malformed_records_fail_alone_and_the_rest_is_resubmitted(resubmit_app, table, event, submit_requests,
                                                                 load_event, lambda_context, caplog):
    good = event()
    ev = sqs_batch(good, load_event("malformed"), bodies=["{not json"])
    response = resubmit_app.handler(ev, lambda_context)

    bad_ids = [r["messageId"] for r in ev["Records"][1:]]
    assert sorted(failed_ids(response)) == sorted(bad_ids)
    assert len(submit_requests) == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert {e.message_id for e in errors} == set(bad_ids)
    assert all("DLQ" in e.getMessage() for e in errors)


def test_throttled_submit_backs_off_and_submits_once(resubmit_app, batch_api, table, event, batch, batch_resources,
                                                     submit_requests, lambda_context, monkeypatch, capsys):
    monkeypatch.setattr(batch_api, "BACKOFF_BASE_SECONDS", 0.01)
    throttles = []

    def _throttle(**_):
        if len(throttles) < 3:
            throttles.append(1)
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"},
                               "ResponseMetadata": {"HTTPStatusCode": 429}}, "SubmitJob")

    resubmit_app.batch.meta.events.register("before-call.batch.SubmitJob", _throttle)
    try:
        response = resubmit_app.handler(sqs_batch(event()), lambda_context)
    finally:
        resubmit_app.batch.meta.events.unregister("before-call.batch.SubmitJob", _throttle)

    assert failed_ids(response) == []
    assert len(resubmissions(batch, batch_resources.job_queue_arn)) == 1
    assert emf(capsys) == {"throttled": 3, "resubmitted": 1}


def test_throttled_past_the_deadline_returns_the_record_and_loses_nothing(
        resubmit_app, table, event, batch, batch_resources, monkeypatch):
    from dataclasses import dataclass

    @dataclass
    class Late(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 5_100  # less than the deadline margin plus any backoff pause

    def _throttle(**_):
        raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"},
                           "ResponseMetadata": {"HTTPStatusCode": 429}}, "SubmitJob")

    failed = event()
    ev = sqs_batch(failed)
    resubmit_app.batch.meta.events.register("before-call.batch.SubmitJob", _throttle)
    try:
        response = resubmit_app.handler(ev, Late())
    finally:
        resubmit_app.batch.meta.events.unregister("before-call.batch.SubmitJob", _throttle)
    assert failed_ids(response) == [ev["Records"][0]["messageId"]]
    assert table.scan(TableName=TABLE)["Items"] == []  # claim released
    assert resubmissions(batch, batch_resources.job_queue_arn) == []

    retry = resubmit_app.handler(sqs_batch(failed, receive_count=2), LambdaContext())
    assert failed_ids(retry) == []
    assert len(resubmissions(batch, batch_resources.job_queue_arn)) == 1


@pytest.fixture
def array_parent(batch, batch_resources):
    return batch.submit_job(jobName="sweep", jobQueue=batch_resources.job_queue_arn,
                            jobDefinition=batch_resources.job_definition_arn, arrayProperties={"size": 10},
                            tags={"team": "quant"})["jobId"]


def child_event(event, parent: str, index: int, **detail):
    return event(f"{parent}:{index}", name="array_child_reclaim", arrayProperties={"index": index}, **detail)


def test_children_reclaimed_together_come_back_as_one_array_job(
        resubmit_app, table, event, batch, batch_resources, array_parent, submit_requests, lambda_context,
        load_event, capsys):
    parent_failed = load_event("array_parent", jobQueue=batch_resources.job_queue_arn)
    children = [child_event(event, array_parent, i) for i in (5, 1, 4, 3)]
    response = resubmit_app.handler(sqs_batch(*children, parent_failed), lambda_context)

    assert failed_ids(response) == []
    [sent] = submit_requests
    assert sent["arrayProperties"] == {"size": 4}
    env = {e["name"]: e["value"] for e in sent["containerOverrides"]["environment"]}
    assert env["SPOTKIT_ARRAY_INDEX_MAP"] == "1,3-5"
    assert "SPOTKIT_ARRAY_INDEX" not in env and not any(n.startswith("AWS_BATCH") for n in env)
    assert sent["tags"] == {"team": "quant",
                            "spotkit:lineage": f"count=1 original={array_parent} previous={array_parent}"}
    metrics = emf(capsys)
    assert metrics["resubmitted"] == 4 and metrics["array-groups"] == 1 and metrics["skipped"] == 1

    # One child redelivered alone later: recognised as already resubmitted (new index 2 = original 4).
    again = resubmit_app.handler(sqs_batch(child_event(event, array_parent, 4)), lambda_context)
    assert failed_ids(again) == [] and len(submit_requests) == 1


def test_child_of_a_regrouped_job_lost_alone_runs_its_original_index(
        resubmit_app, table, event, batch, batch_resources, array_parent, submit_requests, lambda_context):
    regrouped = batch.submit_job(
        jobName="sweep", jobQueue=batch_resources.job_queue_arn, jobDefinition=batch_resources.job_definition_arn,
        arrayProperties={"size": 4},
        tags={"spotkit:lineage": f"count=1 original={array_parent} previous={array_parent}"},
        containerOverrides={"environment": [{"name": "SPOTKIT_ARRAY_INDEX_MAP", "value": "1,3-5"},
                                            {"name": "STRATEGY", "value": "mean-reversion"}],
                            "command": ["python", "-m", "job"]})["jobId"]
    ev = event(f"{regrouped}:2", name="array_child_reclaim", arrayProperties={"index": 2})
    resubmit_app.handler(sqs_batch(ev), lambda_context)

    [sent] = submit_requests
    assert sent["tags"]["spotkit:lineage"] == f"count=2 original={array_parent} previous={regrouped}:2"
    env = {e["name"]: e["value"] for e in sent["containerOverrides"]["environment"]}
    assert env == {"SPOTKIT_ARRAY_INDEX": "4", "STRATEGY": "mean-reversion"}
    assert "arrayProperties" not in sent


def test_kth_spot_loss_goes_to_the_fallback_queue(resubmit_app, table, event, batch, batch_resources, submit_requests,
                                                  lambda_context, monkeypatch, capsys):
    fallback = batch.create_job_queue(jobQueueName="spotkit-on-demand", state="ENABLED", priority=1,
                                      computeEnvironmentOrder=[{"order": 1, "computeEnvironment":
                                                                batch_resources.compute_environment_arn}])
    monkeypatch.setenv("SPOTKIT_FALLBACK_JOB_QUEUE", fallback["jobQueueArn"])
    monkeypatch.setenv("SPOTKIT_FALLBACK_AFTER_LOSSES", "2")

    first = resubmit_app.handler(sqs_batch(event()), lambda_context)
    [new] = resubmissions(batch, batch_resources.job_queue_arn)
    second = resubmit_app.handler(sqs_batch(event(new["jobId"])), lambda_context)

    assert failed_ids(first) == failed_ids(second) == []
    assert [s["jobQueue"] for s in submit_requests] == [batch_resources.job_queue_arn, fallback["jobQueueArn"]]
    assert submit_requests[1]["tags"]["spotkit:lineage"].startswith("count=2 ")
    assert emf(capsys) == {"resubmitted": 2, "fallback": 1}


def test_group_past_the_budget_sends_one_alert_with_every_child(
        resubmit_app, table, event, batch, array_parent, alert_topic, submit_requests, lambda_context,
        monkeypatch, capsys):
    topic, inbox = alert_topic
    monkeypatch.setenv("SPOTKIT_ALERT_TOPIC_ARN", topic)
    batch.tag_resource(resourceArn=batch.describe_jobs(jobs=[array_parent])["jobs"][0]["jobArn"],
                       tags={"spotkit:lineage": "count=3 original=root-job previous=root-job"})
    response = resubmit_app.handler(sqs_batch(*[child_event(event, array_parent, i) for i in (2, 7)]),
                                    lambda_context)

    assert failed_ids(response) == [] and submit_requests == []
    messages = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)
    [alert] = [json.loads(json.loads(m["Body"])["Message"]) for m in messages["Messages"]]
    assert alert["event"] == "spotkit.resubmission_budget_exhausted"
    assert alert["jobIds"] == [f"{array_parent}:2", f"{array_parent}:7"]
    assert alert["lineage"]["original_job_id"] == "root-job"
    assert emf(capsys) == {"budget-exhausted": 2}


def _lose_next_submit_response(resubmit_app):
    """The next SubmitJob reaches Batch, then its response is lost (read timeout). Returns the undo."""
    fired = []

    def _lose(**_):
        if not fired:
            fired.append(True)
            raise ReadTimeoutError(endpoint_url="https://batch.us-east-1.amazonaws.com")

    resubmit_app.batch.meta.events.register("after-call.batch.SubmitJob", _lose)
    return lambda: resubmit_app.batch.meta.events.unregister("after-call.batch.SubmitJob", _lose)


def test_lost_response_is_found_on_redelivery(resubmit_app, table, event, batch, batch_resources, submit_requests,
                                              lambda_context, monkeypatch):
    import stages

    monkeypatch.setattr(stages, "LOOKUP_DELAYS_SECONDS", ())  # no lookup in the failing invocation
    ev = event()
    undo = _lose_next_submit_response(resubmit_app)
    try:
        failed = resubmit_app.handler(sqs_batch(ev), lambda_context)
    finally:
        undo()
    assert len(failed_ids(failed)) == 1
    retry = resubmit_app.handler(sqs_batch(ev, receive_count=2), lambda_context)

    assert failed_ids(retry) == []
    assert len(submit_requests) == 1
    assert len(resubmissions(batch, batch_resources.job_queue_arn)) == 1


def test_lost_response_of_an_array_resubmission_is_found_on_redelivery(
        resubmit_app, table, event, batch, batch_resources, array_parent, submit_requests, lambda_context):
    children = [child_event(event, array_parent, i) for i in (2, 3, 8)]
    undo = _lose_next_submit_response(resubmit_app)
    try:
        failed = resubmit_app.handler(sqs_batch(*children), lambda_context)
    finally:
        undo()
    assert len(failed_ids(failed)) == 3  # all three back to the queue, the array job exists
    retry = resubmit_app.handler(sqs_batch(*children, receive_count=2), lambda_context)

    assert failed_ids(retry) == []
    assert len(submit_requests) == 1
    arrays = [j for j in all_jobs(batch, batch_resources.job_queue_arn) if j["jobId"] != array_parent
              and ":" not in j["jobId"]]
    assert len(arrays) == 1


def test_submit_job_calls_are_paced_at_the_configured_rate(resubmit_app, batch_api, table, event, submit_requests,
                                                           lambda_context, monkeypatch):
    """Deterministic: the pacer runs on a fake clock that only moves when the pacer sleeps."""
    now = [100.0]
    monkeypatch.setattr(batch_api, "pacer", batch_api.Pacer(clock=lambda: now[0],
                                                            sleep=lambda s: now.__setitem__(0, now[0] + s)))
    monkeypatch.setenv("SPOTKIT_SUBMIT_JOB_RATE", "20")  # one call per 50 ms
    stamps: list[float] = []
    resubmit_app.batch.meta.events.register("before-call.batch.SubmitJob", lambda **_: stamps.append(now[0]))
    response = resubmit_app.handler(sqs_batch(*[event() for _ in range(5)]), lambda_context)
    assert failed_ids(response) == [] and len(submit_requests) == 5
    assert [round(t - 100.0, 6) for t in stamps] == [0.0, 0.05, 0.1, 0.15, 0.2]


def test_unpaced_when_no_rate_is_set(batch_api, monkeypatch):
    slept: list[float] = []
    pacer = batch_api.Pacer(clock=lambda: 0.0, sleep=slept.append)
    monkeypatch.delenv("SPOTKIT_SUBMIT_JOB_RATE", raising=False)
    for _ in range(3):
        pacer.wait()
    assert slept == []


def test_invalid_submit_job_rate_fails_the_records(resubmit_app, table, event, submit_requests, lambda_context,
                                                   monkeypatch):
    monkeypatch.setenv("SPOTKIT_SUBMIT_JOB_RATE", "fast")
    ev = sqs_batch(event())
    response = resubmit_app.handler(ev, lambda_context)
    assert failed_ids(response) == [ev["Records"][0]["messageId"]] and submit_requests == []


def test_unreadable_parent_tags_fail_the_child_instead_of_guessing_its_lineage(
        resubmit_app, table, event, array_parent, submit_requests, lambda_context):
    def _deny(**_):
        raise ClientError({"Error": {"Code": "ServerException", "Message": "injected"},
                           "ResponseMetadata": {"HTTPStatusCode": 500}}, "DescribeJobs")

    ev = sqs_batch(child_event(event, array_parent, 3))
    resubmit_app.batch.meta.events.register("before-call.batch.DescribeJobs", _deny)
    try:
        response = resubmit_app.handler(ev, lambda_context)
    finally:
        resubmit_app.batch.meta.events.unregister("before-call.batch.DescribeJobs", _deny)
    assert failed_ids(response) == [ev["Records"][0]["messageId"]] and submit_requests == []
    retry = resubmit_app.handler(sqs_batch(child_event(event, array_parent, 3), receive_count=2), lambda_context)
    assert failed_ids(retry) == [] and len(submit_requests) == 1
    assert submit_requests[0]["tags"]["team"] == "quant"  # the parent's tags, read on the retry


def test_one_describejobs_call_for_a_whole_batch(resubmit_app, table, event, array_parent, submit_requests,
                                                 lambda_context):
    """Batch API calls per resubmitted job: one DescribeJobs for the batch (children, their parent and
    single jobs together), one SubmitJob per job or regrouped array job."""
    calls: dict[str, int] = {}

    def _count(event_name, **_):
        calls[event_name.rsplit(".", 1)[-1]] = calls.get(event_name.rsplit(".", 1)[-1], 0) + 1

    resubmit_app.batch.meta.events.register("before-call.batch", _count)
    try:
        records = [event() for _ in range(3)] + [child_event(event, array_parent, i) for i in (1, 2)]
        response = resubmit_app.handler(sqs_batch(*records), lambda_context)
    finally:
        resubmit_app.batch.meta.events.unregister("before-call.batch", _count)
    assert failed_ids(response) == []
    assert calls == {"DescribeJobs": 1, "SubmitJob": 4}


def test_lost_response_of_a_lone_child_inside_a_group_is_found_on_redelivery(
        resubmit_app, table, event, batch, batch_resources, array_parent, submit_requests, lambda_context):
    a, b = child_event(event, array_parent, 1), child_event(event, array_parent, 6)
    assert failed_ids(resubmit_app.handler(sqs_batch(a), lambda_context)) == []  # child 1 resubmitted alone
    undo = _lose_next_submit_response(resubmit_app)
    try:  # child 1 is a duplicate, so child 6 is a group of one: a single job whose response is lost
        failed = resubmit_app.handler(sqs_batch(a, b), lambda_context)
    finally:
        undo()
    assert len(failed_ids(failed)) == 1
    retry = resubmit_app.handler(sqs_batch(a, b, receive_count=2), lambda_context)

    assert failed_ids(retry) == []
    assert len(submit_requests) == 2 and "arrayProperties" not in submit_requests[1]
    singles = [j for j in all_jobs(batch, batch_resources.job_queue_arn) if j["jobId"] != array_parent
               and ":" not in j["jobId"]]
    assert len(singles) == 2


def test_a_child_redelivered_alone_finds_the_array_job_it_went_out_in(
        resubmit_app, table, event, batch, batch_resources, array_parent, submit_requests, lambda_context):
    """Children 2 and 3 go out as one array job whose response is lost; child 3 alone comes back
    first: it is adopted from the array job's index map, not submitted a second time."""
    import stages

    undo = _lose_next_submit_response(resubmit_app)
    stages.LOOKUP_DELAYS_SECONDS = ()  # module re-imported per test by the resubmit_app fixture
    try:
        failed = resubmit_app.handler(sqs_batch(*[child_event(event, array_parent, i) for i in (2, 3)]),
                                      lambda_context)
    finally:
        undo()
    assert len(failed_ids(failed)) == 2
    retry = resubmit_app.handler(sqs_batch(child_event(event, array_parent, 3), receive_count=2), lambda_context)
    assert failed_ids(retry) == [] and len(submit_requests) == 1


def test_a_50_tag_job_whose_response_was_lost_is_found_on_redelivery(
        resubmit_app, table, event, batch, batch_resources, submit_requests, lambda_context, monkeypatch):
    """No lineage tag at 50 user tags: the lookup reads SPOTKIT_LINEAGE from the environment."""
    import stages

    monkeypatch.setattr(stages, "LOOKUP_DELAYS_SECONDS", ())
    job = batch.submit_job(jobName="many-tags", jobQueue=batch_resources.job_queue_arn,
                           jobDefinition=batch_resources.job_definition_arn,
                           tags={f"k{i:02d}": "v" for i in range(50)})["jobId"]
    ev = event(job)
    undo = _lose_next_submit_response(resubmit_app)
    try:
        assert len(failed_ids(resubmit_app.handler(sqs_batch(ev), lambda_context))) == 1
    finally:
        undo()
    retry = resubmit_app.handler(sqs_batch(ev, receive_count=2), lambda_context)
    assert failed_ids(retry) == [] and len(submit_requests) == 1


def test_a_failing_lookup_in_a_group_fails_only_that_group(
        resubmit_app, table, event, batch, batch_resources, array_parent, submit_requests, lambda_context):
    """ListJobs failing for a redelivered group must not take the batch's other records with it."""
    def _deny(**_):
        raise ClientError({"Error": {"Code": "ServerException", "Message": "injected"},
                           "ResponseMetadata": {"HTTPStatusCode": 500}}, "ListJobs")

    children = [child_event(event, array_parent, i) for i in (4, 5)]
    single = event()
    records = {"Records": sqs_batch(*children, receive_count=2)["Records"] + sqs_batch(single)["Records"]}
    resubmit_app.batch.meta.events.register("before-call.batch.ListJobs", _deny)
    try:
        response = resubmit_app.handler(records, lambda_context)
    finally:
        resubmit_app.batch.meta.events.unregister("before-call.batch.ListJobs", _deny)
    ids = [r["messageId"] for r in records["Records"]]
    assert sorted(failed_ids(response)) == sorted(ids[:2])  # the group returns to the queue, released
    assert table.scan(TableName=TABLE)["Count"] == 0 or all(
        item["status"]["S"] == "COMPLETED" for item in table.scan(TableName=TABLE)["Items"])
    retry = resubmit_app.handler(sqs_batch(*children, receive_count=3), lambda_context)
    assert failed_ids(retry) == []


def test_the_same_child_twice_in_one_batch_without_a_table(resubmit_app, event, array_parent, submit_requests,
                                                           lambda_context):
    child = child_event(event, array_parent, 6)
    response = resubmit_app.handler(sqs_batch(child, child), lambda_context)
    assert failed_ids(response) == [] and len(submit_requests) == 1
