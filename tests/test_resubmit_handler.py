"""functions/resubmit against moto, fed AWS-shaped events.

AWS's "Batch Job State Change" events carry ``"tags": {"resourceArn": <job arn>}`` -- not the job's
tags -- and a captured FAILED event has no ``timeout`` (tests/fidelity/aws/). So every test here
submits a real job to moto (``failed_job`` in conftest) and feeds the function the event AWS would
send for it: what the job was submitted with must come from DescribeJobs.

moto 5.2.5's DescribeJobs drops retryStrategy, propagateTags, shareIdentifier and schedulingPriority;
that those are carried over is asserted on captured AWS JobDetails in tests/test_core.py.
"""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import job_ids

REGION = "us-east-1"  # as set by the aws_credentials fixture
RECLAIM = "Host EC2 (instance i-0123456789abcdef0) terminated."
LINEAGE = "spotkit:lineage"


@pytest.fixture
def batch():
    return boto3.client("batch", region_name=REGION)


@pytest.fixture
def idempotency_table(aws, monkeypatch):
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName="spotkit-idempotency", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    monkeypatch.setenv("SPOTKIT_IDEMPOTENCY_TABLE", "spotkit-idempotency")
    return "spotkit-idempotency"


@pytest.fixture
def calls(resubmit_app):
    """Batch API calls the function makes, by operation name."""
    seen: dict[str, int] = {}

    def _count(event_name, **_):
        op = event_name.rsplit(".", 1)[-1]
        seen[op] = seen.get(op, 0) + 1

    resubmit_app.batch.meta.events.register("before-call.batch", _count)
    yield seen
    resubmit_app.batch.meta.events.unregister("before-call.batch", _count)


def event_of(template: dict, job: dict) -> dict:
    """``template`` (an AWS-shaped FAILED event) re-pointed at the moto job ``job`` (a JobDetail)."""
    event = json.loads(json.dumps(template))
    event["detail"].update(jobId=job["jobId"], jobArn=job["jobArn"], jobName=job["jobName"],
                           jobQueue=job["jobQueue"], jobDefinition=job["jobDefinition"],
                           tags={"resourceArn": job["jobArn"]})
    event["resources"] = [job["jobArn"]]
    return event


def test_spot_reclaim_comes_back_with_its_real_tags_and_timeout(resubmit_app, lambda_context, failed_job, batch,
                                                                batch_resources, submit_requests, calls):
    ev = failed_job(tags={"team": "quant", "cost-center": "42"}, timeout=3600)
    assert ev["detail"]["tags"] == {"resourceArn": ev["detail"]["jobArn"]} and "timeout" not in ev["detail"]
    result = resubmit_app.handler(ev, lambda_context)

    assert result["decision"] == "resubmitted"
    assert result["reason"] == RECLAIM
    new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
    original = ev["detail"]["jobId"]
    assert new["tags"] == {"team": "quant", "cost-center": "42",
                           LINEAGE: f"count=1 original={original} previous={original}"}
    assert new["timeout"] == {"attemptDurationSeconds": 3600}
    assert new["jobName"] == ev["detail"]["jobName"]
    assert new["jobDefinition"] == batch_resources.job_definition_arn
    assert new["container"]["command"] == ev["detail"]["container"]["command"]
    assert new["parameters"] == ev["detail"]["parameters"]
    [sent] = submit_requests
    assert "resourceArn" not in sent["tags"]
    assert not any(k.startswith("aws:") for k in sent["tags"])
    assert "dependsOn" not in sent
    assert not any(e["name"].startswith("AWS_BATCH") for e in sent["containerOverrides"].get("environment", []))
    assert calls == {"DescribeJobs": 1, "SubmitJob": 1}


def test_job_at_its_budget_with_an_aws_shaped_event_is_not_resubmitted(resubmit_app, lambda_context, failed_job,
                                                                       batch, batch_resources, submit_requests):
    """The bug this suite exists for: the count lives on the job, not in the event."""
    ev = failed_job(tags={LINEAGE: "count=3 original=0f0f0f0f-1111 previous=0e0e0e0e-2222"})
    result = resubmit_app.handler(ev, lambda_context)
    assert result["decision"] == "budget_exhausted"
    assert result["lineage"] == {"original_job_id": "0f0f0f0f-1111", "previous_job_id": "0e0e0e0e-2222", "count": 3}
    assert submit_requests == []


def test_legacy_lineage_tags_count_too(resubmit_app, lambda_context, failed_job, submit_requests):
    ev = failed_job(tags={"spotkit:resubmission-count": "99", "spotkit:original-job-id": "first"})
    assert resubmit_app.handler(ev, lambda_context)["decision"] == "budget_exhausted"
    assert submit_requests == []


def test_legacy_lineage_tags_are_replaced_by_the_one_tag(resubmit_app, lambda_context, failed_job, batch):
    ev = failed_job(tags={"spotkit:resubmission-count": "1", "spotkit:original-job-id": "first",
                          "spotkit:previous-job-id": "zeroth", "team": "quant"})
    new_id = resubmit_app.handler(ev, lambda_context)["newJobId"]
    tags = batch.describe_jobs(jobs=[new_id])["jobs"][0]["tags"]
    assert tags == {"team": "quant", LINEAGE: f"count=2 original=first previous={ev['detail']['jobId']}"}


def test_chain_of_resubmissions_stops_at_the_budget(resubmit_app, lambda_context, failed_job, batch, monkeypatch,
                                                    alert_topic, batch_resources):
    """Each new job fails in turn with an AWS-shaped event until the budget stops the lineage."""
    monkeypatch.setenv("SPOTKIT_MAX_RESUBMISSIONS", "2")
    monkeypatch.setenv("SPOTKIT_ALERT_TOPIC_ARN", alert_topic[0])
    ev = failed_job(tags={"team": "quant"})
    first_id = ev["detail"]["jobId"]
    decisions = []
    for _ in range(4):
        result = resubmit_app.handler(ev, lambda_context)
        decisions.append(result["decision"])
        if result["decision"] != "resubmitted":
            break
        ev = event_of(ev, batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0])
    assert decisions == ["resubmitted", "resubmitted", "budget_exhausted"]
    assert result["lineage"]["original_job_id"] == first_id and result["lineage"]["count"] == 2
    assert len(job_ids(batch, batch_resources.job_queue_arn)) == 3  # the original and two resubmissions


def test_budget_exhausted_publishes_alert_and_does_not_submit(resubmit_app, lambda_context, failed_job, batch,
                                                              batch_resources, alert_topic, monkeypatch):
    topic_arn, queue_url = alert_topic
    monkeypatch.setenv("SPOTKIT_ALERT_TOPIC_ARN", topic_arn)
    ev = failed_job(tags={LINEAGE: "count=3 original=0f0f0f0f previous=0e0e0e0e"})
    result = resubmit_app.handler(ev, lambda_context)

    assert result["decision"] == "budget_exhausted"
    assert job_ids(batch, batch_resources.job_queue_arn) == [ev["detail"]["jobId"]]
    sqs = boto3.client("sqs", region_name=REGION)
    [message] = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    alert = json.loads(json.loads(message["Body"])["Message"])
    assert alert["event"] == "spotkit.resubmission_budget_exhausted"
    assert alert["jobId"] == ev["detail"]["jobId"]
    assert alert["statusReason"] == RECLAIM
    assert alert["maxResubmissions"] == 3
    assert alert["lineage"] == {"original_job_id": "0f0f0f0f", "previous_job_id": "0e0e0e0e", "count": 3}


def test_budget_exhausted_without_topic_only_warns(resubmit_app, lambda_context, failed_job, caplog):
    ev = failed_job(tags={LINEAGE: "count=5 original=a previous=b"})
    assert resubmit_app.handler(ev, lambda_context)["decision"] == "budget_exhausted"
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.decision == "budget_exhausted" and warning.alert_published is False


def test_a_job_with_49_user_tags_comes_back_with_all_of_them_and_its_lineage(resubmit_app, lambda_context,
                                                                               failed_job, batch):
    user = {f"k{i:02d}": f"v{i}" for i in range(49)}
    ev = failed_job(tags=user)
    new = batch.describe_jobs(jobs=[resubmit_app.handler(ev, lambda_context)["newJobId"]])["jobs"][0]
    assert len(new["tags"]) == 50
    assert {k: v for k, v in new["tags"].items() if k != LINEAGE} == user
    assert new["tags"][LINEAGE].startswith("count=1 ")


def test_a_job_with_50_user_tags_keeps_them_all_and_its_lineage_in_its_environment(
        resubmit_app, lambda_context, failed_job, batch, monkeypatch, caplog):
    """No room for the lineage tag at 50: the lineage travels as SPOTKIT_LINEAGE in the job's
    environment (DescribeJobs returns it), so the budget still holds on the next loss."""
    monkeypatch.setenv("SPOTKIT_MAX_RESUBMISSIONS", "1")
    user = {f"k{i:02d}": f"v{i}" for i in range(50)}
    ev = failed_job(tags=user)
    result = resubmit_app.handler(ev, lambda_context)
    new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
    original = ev["detail"]["jobId"]
    assert new["tags"] == user
    env = {e["name"]: e["value"] for e in new["container"]["environment"]}
    assert env["SPOTKIT_LINEAGE"] == f"count=1 original={original} previous={original}"
    assert any(r.getMessage().startswith("the job has 50 user tags") for r in caplog.records)

    again = resubmit_app.handler(event_of(ev, new), lambda_context)
    assert again["decision"] == "budget_exhausted"
    assert again["lineage"] == {"original_job_id": original, "previous_job_id": original, "count": 1}


def test_the_lineage_variable_is_dropped_once_the_tag_fits_again(resubmit_app, lambda_context, failed_job, batch):
    ev = failed_job(tags={"team": "quant"}, containerOverrides={
        "command": ["true"], "environment": [{"name": "SPOTKIT_LINEAGE", "value": "count=1 original=a previous=b"}]})
    new_id = resubmit_app.handler(ev, lambda_context)["newJobId"]
    new = batch.describe_jobs(jobs=[new_id])["jobs"][0]
    assert new["tags"]["spotkit:lineage"] == f"count=2 original=a previous={ev['detail']['jobId']}"
    assert "SPOTKIT_LINEAGE" not in {e["name"] for e in new["container"]["environment"]}


def test_a_job_describejobs_no_longer_returns_comes_back_with_what_the_event_has(
        resubmit_app, lambda_context, load_event, batch_resources, batch, caplog, calls):
    ev = load_event("spot_reclaim", jobQueue=batch_resources.job_queue_arn,
                    jobDefinition=batch_resources.job_definition_arn)
    result = resubmit_app.handler(ev, lambda_context)
    assert result["decision"] == "resubmitted"
    new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
    assert set(new["tags"]) == {LINEAGE}  # the event's resourceArn placeholder never becomes a tag
    assert any(r.getMessage().startswith("DescribeJobs no longer returns") for r in caplog.records)
    assert calls["DescribeJobs"] == 1


@pytest.mark.parametrize("name, decision", [
    ("exit_code", "skipped_not_reclaim"),
    ("exit_code_task_failed", "skipped_not_reclaim"),
    ("timeout", "skipped_not_reclaim"),
    ("user_terminated", "skipped_not_reclaim"),
    ("cannot_pull", "skipped_not_reclaim"),
    ("docker_timeout", "skipped_not_reclaim"),
    ("resource_init", "skipped_not_reclaim"),
    ("dependent_failed", "skipped_not_reclaim"),
    ("running", "skipped_not_failed"),
    ("array_parent", "skipped_array_parent"),
    ("multi_node", "skipped_multi_node"),
])
def test_non_reclaim_events_are_skipped_without_batch_calls(resubmit_app, lambda_context, load_event, calls,
                                                            name, decision):
    result = resubmit_app.handler(load_event(name), lambda_context)
    assert result["decision"] == decision
    assert calls == {}


def test_reclaim_reason_only_in_last_attempt(resubmit_app, lambda_context, failed_job, submit_requests):
    result = resubmit_app.handler(failed_job("reclaim_in_last_attempt"), lambda_context)
    assert result["decision"] == "resubmitted"
    assert result["reason"].startswith("Host EC2 (instance ")
    assert len(submit_requests) == 1


def test_array_child_becomes_single_job_with_index_and_parent_tags(resubmit_app, lambda_context, failed_job,
                                                                   batch, submit_requests, calls):
    ev = failed_job("array_child_reclaim", array_size=10, child=7, tags={"team": "quant", "sweep": "s1"})
    result = resubmit_app.handler(ev, lambda_context)

    assert result["decision"] == "resubmitted"
    [sent] = submit_requests
    assert "arrayProperties" not in sent
    env = {e["name"]: e["value"] for e in sent["containerOverrides"]["environment"]}
    assert env["SPOTKIT_ARRAY_INDEX"] == "7"
    new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
    child = ev["detail"]["jobId"]
    assert new["tags"] == {"team": "quant", "sweep": "s1", LINEAGE: f"count=1 original={child} previous={child}"}
    assert calls == {"DescribeJobs": 1, "SubmitJob": 1}  # the child and its parent in one call


def test_unknown_fields_are_tolerated(resubmit_app, lambda_context, failed_job):
    assert resubmit_app.handler(failed_job("unknown_fields"), lambda_context)["decision"] == "resubmitted"


@pytest.mark.parametrize("mutate, message", [
    (lambda e: e.pop("detail"), "detail must be a JSON object"),
    (lambda e: e["detail"].pop("jobId"), "detail.jobId"),
    (lambda e: e["detail"].pop("jobQueue"), "detail.jobQueue"),
    (lambda e: e["detail"].update(jobDefinition=3), "detail.jobDefinition"),
    (lambda e: e["detail"].update(tags=["team"]), "detail.tags"),
    (lambda e: e["detail"].update(attempts="x"), "detail.attempts"),
])
def test_malformed_events_raise(resubmit_app, lambda_context, failed_job, submit_requests, mutate, message):
    ev = failed_job()
    mutate(ev)
    with pytest.raises(resubmit_app.MalformedEventError, match=message):
        resubmit_app.handler(ev, lambda_context)
    assert submit_requests == []


def test_a_malformed_lineage_tag_fails_the_record_instead_of_guessing(resubmit_app, lambda_context, failed_job,
                                                                      submit_requests):
    ev = failed_job(tags={LINEAGE: "count=many"})
    with pytest.raises(resubmit_app.MalformedEventError, match="spotkit:lineage"):
        resubmit_app.handler(ev, lambda_context)
    assert submit_requests == []


def test_malformed_sample_event_raises_and_logs(resubmit_app, lambda_context, load_event, caplog):
    with pytest.raises(ValueError, match="detail.jobQueue"):
        resubmit_app.handler(load_event("malformed"), lambda_context)
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "malformed" in r.getMessage()]
    assert len(errors) == 1 and "detail.jobQueue" in errors[0].error


def test_other_events_are_skipped(resubmit_app, lambda_context):
    result = resubmit_app.handler({"source": "aws.ec2", "detail-type": "EC2 Spot Instance Interruption Warning",
                                   "detail": {"instance-id": "i-0123456789abcdef0"}}, lambda_context)
    assert result["decision"] == "skipped_not_batch_event"


def test_reclaim_patterns_override(resubmit_app, lambda_context, failed_job, monkeypatch):
    monkeypatch.setenv("SPOTKIT_RECLAIM_PATTERNS", json.dumps(["Essential container in task exited"]))
    assert resubmit_app.handler(failed_job("exit_code"), lambda_context)["decision"] == "resubmitted"
    assert resubmit_app.handler(failed_job(), lambda_context)["decision"] == "skipped_not_reclaim"
    monkeypatch.setenv("SPOTKIT_RECLAIM_PATTERNS", "Host EC2*")
    with pytest.raises(ValueError, match="SPOTKIT_RECLAIM_PATTERNS"):
        resubmit_app.handler(failed_job(), lambda_context)


def test_submit_failure_raises_for_retry(resubmit_app, lambda_context, failed_job, monkeypatch):
    from botocore.exceptions import ClientError

    monkeypatch.setenv("SPOTKIT_FALLBACK_JOB_QUEUE", "arn:aws:batch:us-east-1:123456789012:job-queue/does-not-exist")
    monkeypatch.setenv("SPOTKIT_FALLBACK_AFTER_LOSSES", "1")
    with pytest.raises(ClientError):
        resubmit_app.handler(failed_job(), lambda_context)


def test_duplicate_delivery_submits_once_with_idempotency_table(resubmit_app, lambda_context, failed_job, batch,
                                                                batch_resources, idempotency_table):
    ev = failed_job()
    first = resubmit_app.handler(ev, lambda_context)
    second = resubmit_app.handler(ev, lambda_context)
    assert first["decision"] == "resubmitted"
    assert second["decision"] == "skipped_duplicate"
    assert second["newJobId"] == first["newJobId"]
    assert sorted(job_ids(batch, batch_resources.job_queue_arn)) == sorted([ev["detail"]["jobId"], first["newJobId"]])


@pytest.mark.parametrize("reason, expected", [
    ("Host EC2 (instance i-0123456789abcdef0) terminated.", True),
    ("Host EC2 (instance i-04b17daec78ef4a0b) terminated.", True),
    ("Your Spot Task was interrupted.", True),
    ("host ec2 (instance i-0123456789abcdef0) terminated.", False),  # case-sensitive
    ("Essential container in task exited", False),
    ("Task failed due to container exit code 137", False),
    ("Job attempt duration exceeded timeout", False),
    ("Terminated by user", False),
    ("CannotPullContainerError: not found", False),
    ("DockerTimeoutError: timed out", False),
    ("Dependent Job failed", False),
    ("Array Child Job failed", False),
    ("ResourceInitializationError: unable to pull secrets", False),
    ("", False),
])
def test_spotkit_classify_is_the_function_classifier(reason, expected, monkeypatch, resubmit_app):
    import stages
    from spotkit import classify

    monkeypatch.delenv("SPOTKIT_RECLAIM_PATTERNS", raising=False)
    assert classify.is_reclaim_reason(reason) is expected
    assert stages.classify is classify.classify  # one core, not a copy loaded from a path


@pytest.mark.parametrize("name, decision", [
    ("docs_job_state_change_sample.json", "skipped_not_failed"),
    ("hls_job_state_change_failure.json", "skipped_not_reclaim"),
    ("derived_job_state_change_failed_spot.json", "resubmitted"),
    ("public_array_child_succeeded.json", "skipped_not_failed"),
    ("docs_ec2_spot_interruption_warning_sample.json", "skipped_not_batch_event"),
    ("docs_ec2_rebalance_recommendation_sample.json", "skipped_not_batch_event"),
])
def test_the_function_decides_right_on_every_captured_aws_event(resubmit_app, lambda_context, batch, batch_resources,
                                                                 name, decision):
    """Captured payloads (tests/fidelity/SOURCES.md), each pointed at a real moto job so DescribeJobs
    answers as it would on AWS."""
    from fidelity import load_capture

    event = load_capture(name)
    if event.get("source") == "aws.batch":
        job = batch.submit_job(jobName="captured", jobQueue=batch_resources.job_queue_arn,
                               jobDefinition=batch_resources.job_definition_arn, tags={"team": "quant"},
                               timeout={"attemptDurationSeconds": 600})
        event = event_of(event, {**batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]})
    result = resubmit_app.handler(event, lambda_context)
    assert result["decision"] == decision
    if decision == "resubmitted":
        new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
        assert new["tags"]["team"] == "quant" and new["timeout"] == {"attemptDurationSeconds": 600}
