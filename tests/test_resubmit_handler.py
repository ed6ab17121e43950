"""functions/resubmit: classification, resubmission request, lineage, cap alert, against moto.

moto 5.2.5 stores and returns command, environment, parameters, timeout and tags of a submitted job
but drops retryStrategy, propagateTags, resourceRequirements, shareIdentifier and
schedulingPriorityOverride, so those are asserted on the real SubmitJob request captured with a
botocore ``before-call.batch.SubmitJob`` hook.
"""

from __future__ import annotations

import json

import boto3
import pytest
from conftest import job_ids

REGION = "us-east-1"  # as set by the aws_credentials fixture

RECLAIM = "Host EC2 (instance i-0123456789abcdef0) terminated."


@pytest.fixture
def batch():
    return boto3.client("batch", region_name=REGION)


@pytest.fixture
def event(load_event, batch_resources):
    """``event(name, **detail)``: a sample event pointing at the moto queue and job definition."""

    def _event(name: str, **detail):
        return load_event(name, **{"jobQueue": batch_resources.job_queue_arn,
                                   "jobDefinition": batch_resources.job_definition_arn, **detail})

    return _event


def test_spot_reclaim_is_resubmitted_with_everything(resubmit_app, lambda_context, event, batch,
                                                     batch_resources, submit_requests):
    ev = event("spot_reclaim")
    result = resubmit_app.handler(ev, lambda_context)

    assert result["decision"] == "resubmitted"
    assert result["reason"] == RECLAIM
    new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
    assert new["jobId"] != ev["detail"]["jobId"]
    assert new["jobName"] == "backtest-2026q3"
    assert new["jobQueue"] == batch_resources.job_queue_arn
    assert new["jobDefinition"] == batch_resources.job_definition_arn
    assert new["container"]["command"] == ["sh", "-c", "echo backtest Ref::symbol; sleep 600"]
    env = {e["name"]: e["value"] for e in new["container"]["environment"]}
    assert env["STRATEGY"] == "mean-reversion" and env["RESULTS_BUCKET"] == "spotkit-results"
    assert new["parameters"] == {"symbol": "ACME", "window": "90d"}
    assert new["timeout"] == {"attemptDurationSeconds": 3600}
    original = ev["detail"]["jobId"]
    assert new["tags"] == {
        "team": "quant",
        "spotkit:original-job-id": original,
        "spotkit:previous-job-id": original,
        "spotkit:resubmission-count": "1",
    }

    [sent] = submit_requests
    assert sent["retryStrategy"] == ev["detail"]["retryStrategy"]
    assert sent["propagateTags"] is True
    assert sent["containerOverrides"]["resourceRequirements"] == [
        {"type": "MEMORY", "value": "4096"}, {"type": "VCPU", "value": "2"}]
    # Reserved names are dropped on the way out, not only hidden by moto re-adding AWS_BATCH_JOB_ID.
    sent_env = [e["name"] for e in sent["containerOverrides"]["environment"]]
    assert sent_env == ["RESULTS_BUCKET", "STRATEGY"]
    assert not any(k.startswith("aws:") for k in sent["tags"])
    assert "dependsOn" not in sent
    assert "instanceType" not in sent["containerOverrides"]
    assert job_ids(batch, batch_resources.job_queue_arn) == [result["newJobId"]]


def test_second_resubmission_keeps_original_and_counts(resubmit_app, lambda_context, event, batch):
    ev = event("resubmitted_once")
    result = resubmit_app.handler(ev, lambda_context)
    tags = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]["tags"]
    assert tags["spotkit:original-job-id"] == "0f0f0f0f-1111-2222-3333-444444444444"
    assert tags["spotkit:previous-job-id"] == ev["detail"]["jobId"]
    assert tags["spotkit:resubmission-count"] == "2"


def test_chain_of_resubmissions_stops_at_cap(resubmit_app, lambda_context, event, batch, monkeypatch,
                                              alert_topic, batch_resources):
    """Feed each new job back as a reclaimed FAILED event until the cap stops the lineage."""
    monkeypatch.setenv("SPOTKIT_MAX_RESUBMISSIONS", "2")
    monkeypatch.setenv("SPOTKIT_ALERT_TOPIC_ARN", alert_topic[0])
    ev = event("spot_reclaim")
    decisions = []
    for _ in range(4):
        result = resubmit_app.handler(ev, lambda_context)
        decisions.append(result["decision"])
        if result["decision"] != "resubmitted":
            break
        new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
        ev = event("spot_reclaim", jobId=new["jobId"], jobArn=new["jobArn"], tags=new["tags"])
    assert decisions == ["resubmitted", "resubmitted", "budget_exhausted"]
    assert len(job_ids(batch, batch_resources.job_queue_arn)) == 2


def test_budget_exhausted_publishes_alert_and_does_not_submit(resubmit_app, lambda_context, event, batch,
                                                         batch_resources, alert_topic, monkeypatch):
    topic_arn, queue_url = alert_topic
    monkeypatch.setenv("SPOTKIT_ALERT_TOPIC_ARN", topic_arn)
    ev = event("at_cap")
    result = resubmit_app.handler(ev, lambda_context)

    assert result["decision"] == "budget_exhausted"
    assert job_ids(batch, batch_resources.job_queue_arn) == []
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    alert = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert alert["event"] == "spotkit.resubmission_budget_exhausted"
    assert alert["jobId"] == ev["detail"]["jobId"]
    assert alert["statusReason"] == RECLAIM
    assert alert["maxResubmissions"] == 3
    assert alert["lineage"] == {"original_job_id": "0f0f0f0f-1111-2222-3333-444444444444",
                                "previous_job_id": ev["detail"]["jobId"], "count": 3}


def test_budget_exhausted_without_topic_only_warns(resubmit_app, lambda_context, event, batch, batch_resources,
                                              caplog):
    result = resubmit_app.handler(event("at_cap"), lambda_context)
    assert result["decision"] == "budget_exhausted"
    assert job_ids(batch, batch_resources.job_queue_arn) == []
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.decision == "budget_exhausted" and warning.alert_published is False


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
def test_non_reclaim_events_are_skipped(resubmit_app, lambda_context, event, batch, batch_resources,
                                        submit_requests, name, decision):
    result = resubmit_app.handler(event(name), lambda_context)
    assert result["decision"] == decision
    assert submit_requests == []
    assert job_ids(batch, batch_resources.job_queue_arn) == []


def test_reclaim_reason_only_in_last_attempt(resubmit_app, lambda_context, event, submit_requests):
    result = resubmit_app.handler(event("reclaim_in_last_attempt"), lambda_context)
    assert result["decision"] == "resubmitted"
    assert result["reason"] == "Host EC2 (instance i-0fedcba9876543210) terminated."
    assert len(submit_requests) == 1


def test_array_child_becomes_single_job_with_index(resubmit_app, lambda_context, event, batch,
                                                   batch_resources, submit_requests):
    # The real parent exists in moto with the user's tags; children carry none.
    parent = batch.submit_job(jobName="sweep", jobQueue=batch_resources.job_queue_arn,
                              jobDefinition=batch_resources.job_definition_arn,
                              arrayProperties={"size": 10}, tags={"team": "quant", "sweep": "s1"})
    child_id = f"{parent['jobId']}:7"
    result = resubmit_app.handler(event("array_child_reclaim", jobId=child_id), lambda_context)

    assert result["decision"] == "resubmitted"
    [sent] = submit_requests
    assert "arrayProperties" not in sent
    env = {e["name"]: e["value"] for e in sent["containerOverrides"]["environment"]}
    assert env["SPOTKIT_ARRAY_INDEX"] == "7"
    assert not any(name.startswith("AWS_BATCH") for name in env)
    new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
    assert "arrayProperties" not in new or "size" not in new["arrayProperties"]
    assert new["tags"]["sweep"] == "s1"
    assert new["tags"]["spotkit:original-job-id"] == child_id
    assert new["tags"]["spotkit:resubmission-count"] == "1"


def test_legacy_vcpus_memory_become_resource_requirements(resubmit_app, lambda_context, event, submit_requests):
    resubmit_app.handler(event("legacy_vcpus_memory"), lambda_context)
    [sent] = submit_requests
    assert sent["containerOverrides"]["resourceRequirements"] == [
        {"type": "MEMORY", "value": "2048"}, {"type": "VCPU", "value": "1"}]


def test_share_identifier_and_priority_are_carried(resubmit_app, lambda_context, event, submit_requests):
    resubmit_app.handler(event("spot_reclaim", shareIdentifier="quant", schedulingPriority=40), lambda_context)
    [sent] = submit_requests
    assert sent["shareIdentifier"] == "quant"
    assert sent["schedulingPriorityOverride"] == 40


def test_unknown_fields_are_tolerated(resubmit_app, lambda_context, event, batch):
    result = resubmit_app.handler(event("unknown_fields"), lambda_context)
    assert result["decision"] == "resubmitted"
    assert batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]["jobName"] == "backtest-2026q3"


@pytest.mark.parametrize("mutate, message", [
    (lambda e: e.pop("detail"), "detail must be a JSON object"),
    (lambda e: e["detail"].pop("jobId"), "detail.jobId"),
    (lambda e: e["detail"].pop("jobQueue"), "detail.jobQueue"),
    (lambda e: e["detail"].update(jobDefinition=3), "detail.jobDefinition"),
    (lambda e: e["detail"].update(tags=["team"]), "detail.tags"),
    (lambda e: e["detail"].update(attempts="x"), "detail.attempts"),
    (lambda e: e["detail"].update(tags={"spotkit:resubmission-count": "many"}), "resubmission-count"),
])
def test_malformed_events_raise(resubmit_app, lambda_context, event, submit_requests, mutate, message):
    ev = event("spot_reclaim")
    mutate(ev)
    with pytest.raises(resubmit_app.MalformedEventError, match=message):
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


def test_reclaim_patterns_override(resubmit_app, lambda_context, event, monkeypatch, submit_requests):
    monkeypatch.setenv("SPOTKIT_RECLAIM_PATTERNS", json.dumps(["Essential container in task exited"]))
    assert resubmit_app.handler(event("exit_code"), lambda_context)["decision"] == "resubmitted"
    assert resubmit_app.handler(event("spot_reclaim"), lambda_context)["decision"] == "skipped_not_reclaim"
    monkeypatch.setenv("SPOTKIT_RECLAIM_PATTERNS", "Host EC2*")
    with pytest.raises(ValueError, match="SPOTKIT_RECLAIM_PATTERNS"):
        resubmit_app.handler(event("spot_reclaim"), lambda_context)


def test_submit_failure_raises_for_retry(resubmit_app, lambda_context, event):
    from botocore.exceptions import ClientError

    ev = event("spot_reclaim", jobQueue="arn:aws:batch:us-east-1:123456789012:job-queue/does-not-exist")
    with pytest.raises(ClientError):
        resubmit_app.handler(ev, lambda_context)


def test_duplicate_delivery_submits_once_with_idempotency_table(resubmit_app, lambda_context, event, batch,
                                                                 batch_resources, monkeypatch):
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(TableName="spotkit-idempotency", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    monkeypatch.setenv("SPOTKIT_IDEMPOTENCY_TABLE", "spotkit-idempotency")
    ev = event("spot_reclaim")
    first = resubmit_app.handler(ev, lambda_context)
    second = resubmit_app.handler(ev, lambda_context)
    assert first["decision"] == "resubmitted"
    assert second["decision"] == "skipped_duplicate"
    assert second["newJobId"] == first["newJobId"]
    assert job_ids(batch, batch_resources.job_queue_arn) == [first["newJobId"]]


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
def test_spotkit_classify_shares_the_function_classifier(reason, expected, monkeypatch):
    from spotkit import classify

    monkeypatch.delenv("SPOTKIT_RECLAIM_PATTERNS", raising=False)
    assert classify.is_reclaim_reason(reason) is expected
    assert classify.TAG_RESUBMISSION_COUNT == "spotkit:resubmission-count"
