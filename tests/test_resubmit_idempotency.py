"""Exactly-once resubmission: functions/resubmit with its DynamoDB idempotency table, against moto.

EventBridge delivers at least once and Lambda retries a failed asynchronous invocation, so one
FAILED job can reach the function several times. With ``SPOTKIT_IDEMPOTENCY_TABLE`` Powertools for
AWS Lambda keeps one record per failed job id (status INPROGRESS, then COMPLETED with the new job):

- redeliveries of a completed resubmission return its result and submit nothing;
- SubmitJob raising: Powertools deletes the INPROGRESS record and re-raises, so the retry submits once;
- the process killed between claiming the record and SubmitJob (no cleanup runs): the record stays
  INPROGRESS until ``in_progress_expiration`` = claim time + the invocation's remaining time
  (``context.get_remaining_time_in_millis()``). A retry inside that window fails with
  ``IdempotencyAlreadyInProgressError`` (Lambda retries it later); after it, the retry submits once.
  The window is therefore at most the function timeout (``lambda_timeout``, 60 s by default).
- SubmitJob accepted by Batch but its response lost (read timeout, connection closed, HTTP 5xx;
  SubmitJob has no client token): before releasing the record the function looks for the job it
  submitted (ListJobs by name since the failure + the ``spotkit:previous-job-id`` tag) and adopts it.

SubmitJob requests are counted on the function's own Batch client with botocore
``before-call.batch.SubmitJob`` hooks and the jobs Batch holds are listed with ListJobs.
https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from conftest import FUNCTIONS_DIR, LambdaContext, free_port, job_ids

REGION = "us-east-1"  # as set by the aws_credentials fixture
TABLE = "spotkit-resubmit-idempotency"
TTL_SECONDS = 86400


@dataclass
class ShortContext(LambdaContext):
    """A Lambda context whose invocation has ``remaining_ms`` left (Powertools' in-progress window)."""

    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def ddb(aws):
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def table(ddb, monkeypatch):
    """The idempotency table as modules/spot-resubmit creates it, wired to the function's env."""
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True,
                                                                     "AttributeName": "expiration"})
    monkeypatch.setenv("SPOTKIT_IDEMPOTENCY_TABLE", TABLE)
    monkeypatch.setenv("SPOTKIT_IDEMPOTENCY_TTL_SECONDS", str(TTL_SECONDS))
    return TABLE


@pytest.fixture
def batch():
    return boto3.client("batch", region_name=REGION)


@pytest.fixture
def event(load_event, batch_resources):
    """``event(job_id=None, **detail)``: the Spot-reclaim sample aimed at the moto queue, optionally for another job."""

    def _event(job_id: str | None = None, **detail):
        ev = load_event("spot_reclaim", jobQueue=batch_resources.job_queue_arn,
                        jobDefinition=batch_resources.job_definition_arn, **detail)
        if job_id:
            arn = f"arn:aws:batch:{REGION}:123456789012:job/{job_id}"
            ev["detail"].update(jobId=job_id, jobArn=arn)
            ev["resources"] = [arn]
        return ev

    return _event


def _records(ddb) -> list[dict]:
    return ddb.scan(TableName=TABLE, ConsistentRead=True)["Items"]


def _fail_next_submit(resubmit_app, *, after: bool = False):
    """Make the function's next SubmitJob fail: rejected with a ClientException before Batch sees it,
    or (``after``) time out reading the response once Batch has accepted it. Returns the undo."""
    name = "after-call.batch.SubmitJob" if after else "before-call.batch.SubmitJob"
    fired = []

    def _raise(**_):
        if not fired:
            fired.append(True)
            if after:
                raise ReadTimeoutError(endpoint_url="https://batch.us-east-1.amazonaws.com")
            raise ClientError({"Error": {"Code": "ClientException", "Message": "injected fault"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "SubmitJob")

    resubmit_app.batch.meta.events.register(name, _raise)  # after the submit_requests counter
    return lambda: resubmit_app.batch.meta.events.unregister(name, _raise)


def test_same_event_three_times_submits_once(resubmit_app, table, ddb, event, batch, batch_resources,
                                             submit_requests, lambda_context):
    ev = event()
    results = [resubmit_app.handler(ev, lambda_context) for _ in range(3)]

    assert [r["decision"] for r in results] == ["resubmitted", "skipped_duplicate", "skipped_duplicate"]
    assert len(submit_requests) == 1
    assert job_ids(batch, batch_resources.job_queue_arn) == [results[0]["newJobId"]]
    assert {r["newJobId"] for r in results} == {results[0]["newJobId"]}
    (record,) = _records(ddb)
    assert record["status"]["S"] == "COMPLETED"
    assert json.loads(record["data"]["S"])["jobId"] == results[0]["newJobId"]
    assert abs(int(record["expiration"]["N"]) - (time.time() + TTL_SECONDS)) < 60


def test_same_job_in_a_new_event_envelope_is_still_a_duplicate(resubmit_app, table, event, batch, batch_resources,
                                                               submit_requests, lambda_context):
    first = event()
    again = event()
    again["id"] = "00000000-0000-4000-8000-00000000beef"  # another event, same failed job
    assert resubmit_app.handler(first, lambda_context)["decision"] == "resubmitted"
    assert resubmit_app.handler(again, lambda_context)["decision"] == "skipped_duplicate"
    assert len(submit_requests) == 1
    assert len(job_ids(batch, batch_resources.job_queue_arn)) == 1


def test_two_failed_jobs_are_two_submissions(resubmit_app, table, ddb, event, batch, batch_resources,
                                             submit_requests, lambda_context):
    a = event("11111111-1111-4111-8111-111111111111")
    b = event("22222222-2222-4222-8222-222222222222")
    results = [resubmit_app.handler(ev, lambda_context) for ev in (a, b, a, b)]

    assert [r["decision"] for r in results] == ["resubmitted", "resubmitted", "skipped_duplicate",
                                                "skipped_duplicate"]
    assert len(submit_requests) == 2
    assert sorted(job_ids(batch, batch_resources.job_queue_arn)) == sorted([results[0]["newJobId"],
                                                                        results[1]["newJobId"]])
    assert [t["spotkit:lineage"].split()[-1] for t in (r["tags"] for r in submit_requests)] == [
        f"previous={a['detail']['jobId']}", f"previous={b['detail']['jobId']}"]
    assert len(_records(ddb)) == 2


def test_submit_job_failure_releases_the_record_and_the_retry_submits_once(
        resubmit_app, table, ddb, event, batch, batch_resources, submit_requests, lambda_context):
    ev = event()
    undo = _fail_next_submit(resubmit_app)
    try:
        with pytest.raises(ClientError, match="ClientException"):
            resubmit_app.handler(ev, lambda_context)
    finally:
        undo()
    assert _records(ddb) == []  # Powertools deleted the INPROGRESS record
    assert job_ids(batch, batch_resources.job_queue_arn) == []

    retry = resubmit_app.handler(ev, lambda_context)
    again = resubmit_app.handler(ev, lambda_context)

    assert (retry["decision"], again["decision"]) == ("resubmitted", "skipped_duplicate")
    assert len(submit_requests) == 2  # the failed attempt + the retry
    assert job_ids(batch, batch_resources.job_queue_arn) == [retry["newJobId"]]
    assert [r["status"]["S"] for r in _records(ddb)] == ["COMPLETED"]


def test_lost_submit_job_response_is_found_not_resubmitted(resubmit_app, table, ddb, event, batch, batch_resources,
                                                          submit_requests, lambda_context):
    ev = event()
    undo = _fail_next_submit(resubmit_app, after=True)
    try:
        first = resubmit_app.handler(ev, lambda_context)
    finally:
        undo()
    again = resubmit_app.handler(ev, lambda_context)

    assert (first["decision"], again["decision"]) == ("resubmitted", "skipped_duplicate")
    assert len(submit_requests) == 1
    assert job_ids(batch, batch_resources.job_queue_arn) == [first["newJobId"]] == [again["newJobId"]]
    (record,) = _records(ddb)
    assert record["status"]["S"] == "COMPLETED"


# The function in its own process, killed with SIGKILL by a SubmitJob hook: the idempotency record
# is claimed (INPROGRESS), SubmitJob never leaves, and no Python cleanup runs.
_KILLED_INVOCATION = textwrap.dedent("""\
    import json, os, signal, sys
    sys.path.insert(0, sys.argv[1])
    import app

    class Context:
        function_name = "spotkit-resubmit"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:spotkit-resubmit"
        aws_request_id = "11111111-0000-4000-8000-000000000000"
        def get_remaining_time_in_millis(self):
            return int(sys.argv[2])

    app.batch.meta.events.register("before-call.batch.SubmitJob",
                                   lambda **_: os.kill(os.getpid(), signal.SIGKILL))
    app.handler(json.load(sys.stdin), Context())
    """)


@pytest.fixture
def moto_endpoint(aws):
    """A moto server in this process (same backends as ``mock_aws``) for a function in a child process."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_killed_after_claiming_record_retry_submits_once_after_in_progress_expiry(
        resubmit_app, table, ddb, event, batch, batch_resources, submit_requests, moto_endpoint):
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    remaining_ms = 600_000  # the killed invocation's remaining time: the INPROGRESS window (never waited out)
    ev = event()
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_endpoint, "POWERTOOLS_TRACE_DISABLED": "1",
           "POWERTOOLS_SERVICE_NAME": "spotkit-resubmit"}
    claimed_at = time.time()
    proc = subprocess.run([sys.executable, "-c", _KILLED_INVOCATION, str(FUNCTIONS_DIR / "resubmit"),
                           str(remaining_ms)], input=json.dumps(ev), env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    (record,) = _records(ddb)
    assert record["status"]["S"] == "INPROGRESS"
    expiry_ms = int(record["in_progress_expiration"]["N"])
    assert claimed_at * 1000 < expiry_ms <= (time.time() * 1000) + remaining_ms
    assert job_ids(batch, batch_resources.job_queue_arn) == []

    context = ShortContext(remaining_ms=60_000)
    # Inside the window (10 minutes, so always): the retry is refused, not submitted.
    with pytest.raises(IdempotencyAlreadyInProgressError):
        resubmit_app.handler(ev, context)
    assert submit_requests == []

    # The window passes: move the claim's expiry into the past instead of waiting 10 minutes.
    ddb.update_item(TableName=TABLE, Key={"id": record["id"]},
                    UpdateExpression="SET in_progress_expiration = :past",
                    ExpressionAttributeValues={":past": {"N": str(int(time.time() * 1000) - 1)}})
    retry = resubmit_app.handler(ev, context)
    again = resubmit_app.handler(ev, context)

    assert (retry["decision"], again["decision"]) == ("resubmitted", "skipped_duplicate")
    assert len(submit_requests) == 1
    assert job_ids(batch, batch_resources.job_queue_arn) == [retry["newJobId"]]
    (record,) = _records(ddb)
    assert record["status"]["S"] == "COMPLETED"


def test_in_progress_window_follows_the_invocation_remaining_time(resubmit_app, table, ddb, event, batch,
                                                                  batch_resources):
    """The claim made by an invocation with 2 s left expires ~2 s later (not at the 24 h TTL)."""
    seen = {}

    def _peek(**_):
        seen["record"] = _records(ddb)[0]

    resubmit_app.batch.meta.events.register("before-call.batch.SubmitJob", _peek)
    try:
        before = time.time() * 1000
        resubmit_app.handler(event(), ShortContext(remaining_ms=2000))
        after = time.time() * 1000
    finally:
        resubmit_app.batch.meta.events.unregister("before-call.batch.SubmitJob", _peek)
    record = seen["record"]
    assert record["status"]["S"] == "INPROGRESS"
    assert before + 2000 <= int(record["in_progress_expiration"]["N"]) <= after + 2000
