"""Lambda handler: resubmit AWS Batch jobs that failed because their Spot host was reclaimed.

Trigger: an EventBridge rule on ``source: aws.batch``, ``detail-type: Batch Job State Change``
(ideally filtered to ``detail.status: FAILED``), invoked asynchronously. Handler: ``app.handler``.

Per event the handler:

1. validates the event (:func:`reclaim.parse_event`); a malformed event is logged and **raises**, so
   Lambda's async retries and then the function's dead-letter queue / on-failure destination keep it;
2. skips (logs, returns) anything that is not a FAILED job whose statusReason says the host was
   reclaimed (:func:`reclaim.classify`), array parents and multi-node parallel jobs;
3. past ``SPOTKIT_MAX_RESUBMISSIONS`` resubmissions of one lineage, logs a WARNING and publishes an
   alert to ``SPOTKIT_ALERT_TOPIC_ARN`` (if set) instead of resubmitting;
4. otherwise calls SubmitJob with everything the failed job was submitted with plus lineage tags.

Configuration (environment variables):

- ``SPOTKIT_MAX_RESUBMISSIONS`` (int, default 3), ``SPOTKIT_RECLAIM_PATTERNS`` (JSON array of globs),
  ``SPOTKIT_ALERT_TOPIC_ARN`` (SNS topic ARN, optional).
- ``SPOTKIT_IDEMPOTENCY_TABLE`` (optional DynamoDB table, partition key ``id`` (string), TTL attribute
  ``expiration``): EventBridge delivers at least once, so with this table a duplicate delivery of
  the same FAILED event does not create a second job. Without it duplicates are possible.
  ``SPOTKIT_IDEMPOTENCY_TTL_SECONDS`` (int, default 604800): how long a resubmission is remembered.
- Powertools: ``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_LOG_LEVEL``, ``POWERTOOLS_TRACE_DISABLED``.
- Endpoints: plain boto3 (``AWS_ENDPOINT_URL`` points every client at an emulator).

Permissions: ``batch:SubmitJob`` and ``batch:TagResource`` (tags on submit), ``batch:DescribeJobs``
(array parent tags), ``sns:Publish`` on the alert topic, and DynamoDB Get/Put/Update/DeleteItem on
the idempotency table when used.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from typing import Any

import boto3
import reclaim
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from reclaim import Decision, JobStateChange, Lineage, MalformedEventError

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "spotkit-resubmit")
METRICS_NAMESPACE = "spotkit"



class _NoTracer:
    """Stands in for Powertools ``Tracer`` when the X-Ray SDK is absent (even a disabled Tracer imports it)."""

    @staticmethod
    def capture_method(fn):
        return fn

    @staticmethod
    def capture_lambda_handler(fn):
        return fn


logger = Logger(service=SERVICE)
# The X-Ray SDK is neither in the Lambda Python runtime nor in this zip (it would double its size):
# trace only when a layer or the zip provides it (``pip install aws-lambda-powertools[tracer]``).
tracer = Tracer(service=SERVICE) if importlib.util.find_spec("aws_xray_sdk") else _NoTracer()
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

batch = boto3.client("batch")
sns = boto3.client("sns")

_METRIC_NAMES = {
    Decision.RESUBMITTED: "JobsResubmitted",
    Decision.CAP_REACHED: "ResubmissionCapReached",
}


@functools.cache
def _idempotency(table: str, ttl_seconds: int):
    """``(config, idempotent _submit)``: Powertools idempotency keyed on the failed job's ``jobId``.

    A record lives ``ttl_seconds`` in ``table``, so a redelivered event returns the first
    resubmission's result instead of submitting again. While a submission runs the record is
    INPROGRESS until the invocation's deadline (the registered Lambda context's remaining time);
    if the submission raises, the record is deleted so the retry submits.
    https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/
    """
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(table_name=table)
    config = IdempotencyConfig(event_key_jmespath="jobId", expires_after_seconds=ttl_seconds)
    wrapped = idempotent_function(data_keyword_argument="detail", persistence_store=persistence,
                                  config=config)(_submit)
    return config, wrapped


def _parent_tags(job: JobStateChange) -> dict[str, str]:
    """The array parent's tags (Batch does not copy tags onto children); {} if unavailable."""
    parent_id = job.array_parent_id
    if not parent_id or job.tags:
        return {}
    try:
        jobs = batch.describe_jobs(jobs=[parent_id]).get("jobs") or []
    except Exception:  # best effort: the child is resubmitted without the parent's tags
        logger.warning("could not read array parent tags", extra={"parent_job_id": parent_id}, exc_info=True)
        return {}
    return dict((jobs[0].get("tags") or {}) if jobs else {})


def _alert_cap_reached(job: JobStateChange, lineage: Lineage, reason: str, cap: int) -> bool:
    """Publish the cap alert to ``SPOTKIT_ALERT_TOPIC_ARN``; False when no topic is configured."""
    topic = os.environ.get("SPOTKIT_ALERT_TOPIC_ARN")
    if not topic:
        return False
    message = {
        "event": "spotkit.resubmission_cap_reached",
        "jobId": job.job_id,
        "jobName": job.job_name,
        "jobQueue": job.job_queue,
        "jobDefinition": job.job_definition,
        "statusReason": reason,
        "maxResubmissions": cap,
        "lineage": lineage.as_dict(),
    }
    sns.publish(TopicArn=topic, Subject=f"spotkit: resubmission cap reached for {job.job_name}"[:100],
                Message=json.dumps(message, sort_keys=True),
                MessageAttributes={"event": {"DataType": "String",
                                             "StringValue": "spotkit.resubmission_cap_reached"}})
    return True


@tracer.capture_method
def _submit(*, detail: dict[str, Any], job: JobStateChange, lineage: Lineage,
            inherited_tags: dict[str, str], state: dict[str, bool]) -> dict[str, Any]:
    state["submitted"] = True
    request = reclaim.build_submit_request(job, lineage, inherited_tags)
    response = batch.submit_job(**request)
    return {"jobId": response["jobId"], "jobArn": response.get("jobArn"), "jobName": response["jobName"]}


def process(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """Decide and act on one EventBridge event; see the module docstring.

    Returns:
        ``{"decision": <Decision value>, "jobId": <failed job id or None>, "reason": str}`` plus,
        when resubmitted, ``newJobId``, ``newJobArn`` and ``lineage``.

    Raises:
        reclaim.MalformedEventError: the event cannot be parsed.
        ValueError: ``SPOTKIT_RECLAIM_PATTERNS`` / ``SPOTKIT_MAX_RESUBMISSIONS`` are invalid.
        botocore.exceptions.ClientError: SubmitJob / Publish failed (the invocation is retried).
    """
    try:
        return _process(event, context)
    except MalformedEventError as exc:
        metrics.add_metric(name="MalformedEvents", unit=MetricUnit.Count, value=1)
        logger.error("malformed Batch Job State Change event, raising so it reaches the DLQ",
                     extra={"error": str(exc), "event_id": event.get("id") if isinstance(event, dict) else None})
        raise
    except ClientError as exc:
        metrics.add_metric(name="AwsApiErrors", unit=MetricUnit.Count, value=1)
        logger.error("AWS API call failed, raising so Lambda retries the event",
                     extra={"error": str(exc), "error_code": exc.response.get("Error", {}).get("Code")})
        raise
    except ValueError as exc:  # invalid SPOTKIT_* configuration
        metrics.add_metric(name="ConfigurationErrors", unit=MetricUnit.Count, value=1)
        logger.error("invalid spotkit configuration", extra={"error": str(exc)})
        raise


def _process(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    job = reclaim.parse_event(event)
    if job is None:
        metrics.add_metric(name="EventsSkipped", unit=MetricUnit.Count, value=1)
        logger.info("skipped: not a Batch Job State Change event",
                    extra={"decision": Decision.SKIPPED_NOT_BATCH_EVENT.value, "source": event.get("source"),
                           "detail_type": event.get("detail-type")})
        return {"decision": Decision.SKIPPED_NOT_BATCH_EVENT.value, "jobId": None, "reason": "not a Batch event"}

    logger.append_keys(job_id=job.job_id, job_name=job.job_name, job_queue=job.job_queue)
    skip, reason = reclaim.classify(job, reclaim.reclaim_patterns())
    if skip is not None:
        metrics.add_metric(name="EventsSkipped", unit=MetricUnit.Count, value=1)
        logger.info(f"skipped: {skip.value}", extra={"decision": skip.value, "status": job.status,
                                                     "status_reason": reason})
        return {"decision": skip.value, "jobId": job.job_id, "reason": reason}

    inherited = _parent_tags(job)
    lineage = job.lineage(inherited)
    logger.append_keys(lineage=lineage.as_dict())
    cap = reclaim.max_resubmissions()
    if lineage.count >= cap:
        alerted = _alert_cap_reached(job, lineage, reason, cap)
        metrics.add_metric(name=_METRIC_NAMES[Decision.CAP_REACHED], unit=MetricUnit.Count, value=1)
        logger.warning("not resubmitting: resubmission cap reached",
                       extra={"decision": Decision.CAP_REACHED.value, "status_reason": reason,
                              "max_resubmissions": cap, "alert_published": alerted})
        return {"decision": Decision.CAP_REACHED.value, "jobId": job.job_id, "reason": reason,
                "lineage": lineage.as_dict()}

    table = os.environ.get("SPOTKIT_IDEMPOTENCY_TABLE")
    submit = _submit
    if table:
        config, submit = _idempotency(table, int(os.environ.get("SPOTKIT_IDEMPOTENCY_TTL_SECONDS") or 7 * 24 * 3600))
        if context is not None:
            config.register_lambda_context(context)
    state = {"submitted": False}
    new = submit(detail=dict(job.raw), job=job, lineage=lineage, inherited_tags=inherited, state=state)
    if not state["submitted"]:
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=1)
        logger.info("skipped: duplicate delivery, already resubmitted",
                    extra={"decision": Decision.SKIPPED_DUPLICATE.value, "new_job_id": new["jobId"]})
        return {"decision": Decision.SKIPPED_DUPLICATE.value, "jobId": job.job_id, "reason": reason,
                "newJobId": new["jobId"], "newJobArn": new.get("jobArn")}
    metrics.add_metric(name=_METRIC_NAMES[Decision.RESUBMITTED], unit=MetricUnit.Count, value=1)
    logger.info("resubmitted job lost to Spot reclaim",
                extra={"decision": Decision.RESUBMITTED.value, "status_reason": reason,
                       "new_job_id": new["jobId"], "resubmission_count": lineage.count + 1})
    return {"decision": Decision.RESUBMITTED.value, "jobId": job.job_id, "reason": reason,
            "newJobId": new["jobId"], "newJobArn": new.get("jobArn"),
            "lineage": {**lineage.as_dict(), "count": lineage.count + 1}}


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``app.handler``) for one EventBridge "Batch Job State Change" event."""
    return process(event, context)
