"""Lambda handler: resubmit AWS Batch jobs that failed because their Spot host was reclaimed.

Pipeline (modules/spot-resubmit): EventBridge rule on ``aws.batch`` "Batch Job State Change" with
``status: FAILED`` -> encrypted SQS queue (redrive to a DLQ) -> event source mapping with
``ReportBatchItemFailures`` -> ``app.handler``. The queue absorbs bursts (one reclaim can fail
hundreds of jobs while SubmitJob allows about 50 calls per second per account) and keeps every
event until it is handled. A bare EventBridge event (direct invocation) is handled too.

The work is :mod:`stages`: parse -> enrich (one DescribeJobs per 100 jobs of the batch) -> decide ->
plan -> act; the decisions themselves are :mod:`spotkit.core` (vendored into this zip by
``spotkit package``), shared with ``spotkit classify``, chaos and the benchmarks. Exactly once per
failed job: :mod:`ledger` (Powertools idempotency table). SubmitJob pacing, backoff and
job-definition revisions: :mod:`batchapi`. Logs and EMF metrics: :mod:`telemetry`.

Configuration (environment variables): ``SPOTKIT_MAX_RESUBMISSIONS`` (default 3),
``SPOTKIT_RECLAIM_PATTERNS`` (JSON array of globs), ``SPOTKIT_ALERT_TOPIC_ARN``,
``SPOTKIT_IDEMPOTENCY_TABLE`` / ``SPOTKIT_IDEMPOTENCY_TTL_SECONDS`` (default 604800),
``SPOTKIT_FALLBACK_JOB_QUEUE`` / ``SPOTKIT_FALLBACK_AFTER_LOSSES`` (default 2),
``SPOTKIT_SUBMIT_JOB_RATE`` (calls per second per invocation, default 0 = unpaced),
``SPOTKIT_DECISION_EVENT_BUS`` (event bus for the decision events, :mod:`publish`; empty = off), Powertools'
``POWERTOOLS_SERVICE_NAME``, ``POWERTOOLS_METRICS_NAMESPACE`` (default ``spotkit``),
``POWERTOOLS_LOG_LEVEL``. ``AWS_ENDPOINT_URL`` points botocore at an emulator.

Permissions: batch:SubmitJob (job queues and job definitions) + batch:TagResource (jobs),
batch:DescribeJobs, batch:ListJobs and batch:DescribeJobDefinitions, sns:Publish on the alert topic,
events:PutEvents on the decision event bus,
DynamoDB Get/Put/Update/DeleteItem on the idempotency table, SQS consume on the events queue.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import publish
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from batchapi import aws_client, batch, pacer  # noqa: F401  (the function's Batch client and pacer; tests hook them)
from botocore.exceptions import ClientError
from ledger import Ledger, NoLedger
from spotkit.core.job import MalformedEventError
from stages import Invocation, Result, run
from telemetry import count, logger, metrics, tracer

# A batch whose every record failed is answered like any other (all ids in batchItemFailures) rather
# than by raising: same effect on the queue, and the failures are already logged per record.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@functools.lru_cache(maxsize=None)
def _ledger_for(table: str, ttl_seconds: int) -> Ledger:
    return Ledger(table, ttl_seconds, client=aws_client("dynamodb"))


def _ledger() -> Ledger | NoLedger:
    table = os.environ.get("SPOTKIT_IDEMPOTENCY_TABLE", "").strip()
    if not table:
        return NoLedger()
    return _ledger_for(table, int(os.environ.get("SPOTKIT_IDEMPOTENCY_TTL_SECONDS") or 7 * 24 * 3600))


def _invocation(context: LambdaContext | None) -> Invocation:
    def remaining_seconds() -> float:
        return 60.0 if context is None else context.get_remaining_time_in_millis() / 1000

    return Invocation(_ledger(), remaining_seconds)


def _log_failure(exc: Exception, **keys: Any) -> None:
    if isinstance(exc, MalformedEventError):
        count("malformed-event")
        logger.error("malformed Batch Job State Change event: failing it so it ends in the DLQ",
                     extra={**keys, "error": str(exc)})
    elif type(exc).__name__ == "IdempotencyAlreadyInProgressError":
        logger.info("resubmission in progress elsewhere: failing the record for a later retry",
                    extra={**keys, "error": str(exc)})
    elif isinstance(exc, ValueError):
        count("failed")
        logger.error("invalid spotkit configuration or request", extra={**keys, "error": str(exc)})
    else:
        count("failed")
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        logger.error("resubmission failed: the event will be retried", extra={**keys, "error": str(exc),
                                                                            "error_code": code})


def process(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """Decide and act on one bare EventBridge event.

    Returns:
        ``{"decision", "jobId", "reason"}`` plus, when resubmitted, ``newJobId``, ``newJobArn``,
        ``jobQueue``, ``fallback`` and ``lineage``.

    Raises:
        MalformedEventError, ValueError, IdempotencyAlreadyInProgressError, SubmitThrottled,
        NoActiveRevision, botocore errors: the invocation fails and is retried.
    """
    key = str(event.get("id")) if isinstance(event, dict) else "event"
    inv = _invocation(context)
    publish.discard()
    try:
        outcome = run([(key, event, False)], inv)[key]
    finally:
        publish.flush(inv.remaining_seconds)
    if isinstance(outcome, Exception):
        _log_failure(outcome, event_id=key)
        raise outcome
    return outcome.as_dict()


def process_sqs_batch(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """Handle an SQS batch (``{"Records": [...]}``, each body an EventBridge event).

    Returns:
        The partial batch response ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}``
        (Powertools batch processing; Lambda deletes every other record). Failed records come back
        after the queue's visibility timeout and go to the DLQ after ``maxReceiveCount`` receives.
    """
    items = []
    for raw in event.get("Records") or []:
        record = SQSRecord(raw)
        try:
            body: Any = json.loads(record.body)
        except (TypeError, ValueError) as exc:
            body = MalformedEventError(f"SQS message body is not JSON: {exc}")
        items.append((record.message_id, body, int(record.attributes.approximate_receive_count or 1) > 1))
    inv = _invocation(context)
    publish.discard()
    try:
        outcomes = run(items, inv)
    finally:  # after the batch's last SubmitJob: one PutEvents per 10 decisions, never raises
        publish.flush(inv.remaining_seconds)

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        outcome = outcomes[record.message_id]
        if isinstance(outcome, Exception):
            _log_failure(outcome, message_id=record.message_id)
            raise outcome
        return outcome.as_dict()

    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (``app.handler``): an SQS batch from the event source mapping, or one
    bare EventBridge event (see :func:`process_sqs_batch` and :func:`process`)."""
    if isinstance(event, dict) and "Records" in event:
        return process_sqs_batch(event, context)
    return process(event, context)


__all__ = ["Result", "handler", "process", "process_sqs_batch"]
