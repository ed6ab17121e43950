"""spotkit's decisions as EventBridge events: one event per failed job the resubmit function decided on.

The resubmit function publishes them (PutEvents, ``Source`` :data:`SOURCE`) so that notifications,
metrics and users' own automation subscribe to what spotkit decided instead of re-deriving it from
AWS Batch's events. The contract is this module plus ``schemas/decision-event.schema.json`` (the
``detail`` of every detail-type; tests/events/decisions/ holds one sample per detail-type, validated
against it). docs/events.md explains how to route them.

Detail-types (:class:`DetailType`), exactly one per failed job and decision:

========================================  =====================================================
``Job Resubmitted``                       resubmitted to its own job queue, same revision
``Job Fell Back To On-Demand``            resubmitted to the on-demand fallback job queue
``Job Definition Revision Switched``      resubmitted on the latest ACTIVE revision (its own
                                          was deregistered); ``detail.resubmission.fallback``
                                          tells whether it also went to the fallback queue
``Job Not Resubmitted``                   left alone on purpose: ``detail.reasonClass`` says why
                                          (exit code, timeout, image pull, ... see
                                          :func:`spotkit.core.classify.failure_class`)
``Resubmission Budget Exhausted``         lost to a reclaim again, but the lineage has used its
                                          ``maxResubmissions``
``Job Not Resubmittable``                 a reclaim spotkit could not resubmit: SubmitJob refused
                                          the request, no ACTIVE revision, or it would break a
                                          SubmitJob limit; the record is retried, then dead-lettered
========================================  =====================================================

Delivery is EventBridge's: at least once, unordered (EventBridge User Guide, "Amazon EventBridge
events", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events.html). A decision
whose record is redelivered may be published again (``Job Not Resubmittable`` is, on every
receive): subscribers dedupe on ``(detail-type, detail.jobId)``. A duplicate delivery of a job
already resubmitted publishes nothing.

PutEvents limits relied on (EventBridge API Reference, PutEvents,
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html): at most 10 entries
per call, 256 KB per request; ``Source`` must not start with ``aws.``; ``Detail`` is a JSON object
string; ``Resources`` are ARNs.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

from spotkit.core.classify import Decision, failure_class
from spotkit.core.job import JobDetail
from spotkit.core.lineage import Lineage

#: ``source`` of every spotkit decision event.
SOURCE = "spotkit"
#: ``detail.schemaVersion``; bumped only on an incompatible change of the detail.
SCHEMA_VERSION = "1"
#: PutEvents accepts at most this many entries per call.
MAX_ENTRIES_PER_CALL = 10
#: The log group Batch jobs log to unless their log configuration names another one.
DEFAULT_BATCH_LOG_GROUP = "/aws/batch/job"


class DetailType(str, enum.Enum):
    """``detail-type`` of a spotkit decision event (see the module docstring)."""

    RESUBMITTED = "Job Resubmitted"
    FELL_BACK = "Job Fell Back To On-Demand"
    REVISION_SWITCHED = "Job Definition Revision Switched"
    NOT_RESUBMITTED = "Job Not Resubmitted"
    BUDGET_EXHAUSTED = "Resubmission Budget Exhausted"
    NOT_RESUBMITTABLE = "Job Not Resubmittable"


#: The skip decisions that are published as ``Job Not Resubmitted``. Not published: a record that
#: is not a Batch event, not FAILED (the rule sends FAILED only), or a duplicate delivery.
PUBLISHED_SKIPS = frozenset({Decision.SKIPPED_NOT_RECLAIM, Decision.SKIPPED_ARRAY_PARENT,
                             Decision.SKIPPED_MULTI_NODE, Decision.SKIPPED_UNSUPPORTED})


def exit_code(job: JobDetail) -> int | None:
    """The job's exit code: ``container.exitCode``, else the last attempt's; None when the job never
    exited by itself (a reclaim leaves none, see tests/fidelity/SOURCES.md)."""
    for source in ((job.raw.get("container") or {}), ((job.raw.get("attempts") or [{}])[-1] or {}).get("container")
                   or {}):
        value = source.get("exitCode") if isinstance(source, Mapping) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def log_location(job: JobDetail) -> tuple[str | None, str | None]:
    """``(log group, log stream)`` of the job's last attempt: the stream from ``container.logStreamName``
    (else the last attempt's); the group from the awslogs ``logConfiguration`` option
    ``awslogs-group``, else Batch's default ``/aws/batch/job`` (AWS Batch User Guide, "Using the
    awslogs log driver", https://docs.aws.amazon.com/batch/latest/userguide/using_awslogs.html).
    ``(None, None)`` when the job never got a stream."""
    container = job.raw.get("container") or {}
    stream = container.get("logStreamName")
    if not stream:
        last = ((job.raw.get("attempts") or [{}])[-1] or {}).get("container") or {}
        stream = last.get("logStreamName")
    if not isinstance(stream, str) or not stream:
        return None, None
    config = container.get("logConfiguration") or {}
    group = None
    if config.get("logDriver") in (None, "awslogs"):
        group = (config.get("options") or {}).get("awslogs-group")
    return (group if isinstance(group, str) and group else DEFAULT_BATCH_LOG_GROUP), stream


def job_fields(job: JobDetail) -> dict[str, Any]:
    """The failed job's fields every decision event carries (``jobId`` ... ``logStreamName``; see the
    schema). Times are milliseconds since the epoch as Batch gives them, None when absent."""
    raw = job.raw
    group, stream = log_location(job)

    def ms(key: str) -> int | None:
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return {
        "jobId": job.job_id,
        "jobArn": job.job_arn,
        "jobName": job.job_name,
        "jobQueue": job.job_queue,
        "jobDefinition": job.job_definition,
        "status": job.status,
        "statusReason": job.status_reason or None,
        "exitCode": exit_code(job),
        "attempts": len(raw.get("attempts") or []),
        "arrayIndex": job.array_index,
        "arrayParentJobId": job.array_parent_id,
        "createdAt": ms("createdAt"),
        "startedAt": ms("startedAt"),
        "stoppedAt": ms("stoppedAt"),
        "logGroupName": group,
        "logStreamName": stream,
    }


def detail_type_for(decision: Decision, *, fallback: bool = False,
                    revision_switched: bool = False) -> DetailType | None:
    """The detail-type of a decision, None when it is not published (see :data:`PUBLISHED_SKIPS`)."""
    if decision is Decision.RESUBMITTED:
        if revision_switched:
            return DetailType.REVISION_SWITCHED
        return DetailType.FELL_BACK if fallback else DetailType.RESUBMITTED
    if decision is Decision.BUDGET_EXHAUSTED:
        return DetailType.BUDGET_EXHAUSTED
    if decision is Decision.NOT_RESUBMITTABLE:
        return DetailType.NOT_RESUBMITTABLE
    if decision in PUBLISHED_SKIPS:
        return DetailType.NOT_RESUBMITTED
    return None


def decision_detail(decision: Decision, job: JobDetail, reason: str, *, lineage: Lineage | None = None,
                    resubmission: Mapping[str, Any] | None = None, max_resubmissions: int | None = None,
                    error: str | None = None, batch_event_id: str | None = None) -> dict[str, Any]:
    """The ``detail`` of a decision event (shape: ``schemas/decision-event.schema.json``).

    Args:
        decision: what the function decided.
        job: the failed job (the event's view; DescribeJobs' when the caller has it).
        reason: the statusReason that decided, or the explanation of a skip.
        lineage: the FAILED job's lineage (``count`` = resubmissions before it); None for a job that
            was never resubmitted (a fresh lineage of count 0 is then reported).
        resubmission: for resubmissions, ``{"jobId", "jobArn", "arrayIndex", "jobQueue", "fallback",
            "jobDefinition", "revisionFrom"}`` of the NEW job (``revisionFrom``: the deregistered
            revision number it moved away from, else None).
        max_resubmissions: the budget in force.
        error: why a reclaim is not resubmittable.
        batch_event_id: the ``id`` of the Batch event that was decided on.
    """
    lineage = lineage or Lineage(job.job_id, job.job_id, 0)
    detail: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "decision": decision.value,
        "reason": reason,
        "reasonClass": failure_class(job),
        **job_fields(job),
        "lineage": {"originalJobId": lineage.original_job_id, "previousJobId": lineage.previous_job_id,
                    "count": lineage.count},
        "maxResubmissions": max_resubmissions,
        "batchEventId": batch_event_id,
    }
    if resubmission is not None:
        detail["resubmission"] = {k: resubmission.get(k) for k in
                                  ("jobId", "jobArn", "arrayIndex", "jobQueue", "fallback", "jobDefinition",
                                   "revisionFrom")}
    if error is not None:
        detail["error"] = error[:2000]
    return detail


def put_events_entry(detail_type: DetailType, detail: Mapping[str, Any], *,
                     event_bus: str | None = None) -> dict[str, Any]:
    """One PutEvents request entry (``Source``, ``DetailType``, ``Detail`` (JSON string), ``Resources``:
    the failed job's ARN and the new job's, ``EventBusName`` when given -- default bus otherwise)."""
    resources = [arn for arn in (detail.get("jobArn"), (detail.get("resubmission") or {}).get("jobArn"))
                 if isinstance(arn, str) and arn.startswith("arn:")]
    entry: dict[str, Any] = {"Source": SOURCE, "DetailType": detail_type.value, "Resources": resources,
                             "Detail": json.dumps(detail, sort_keys=True, separators=(",", ":"))}
    if event_bus:
        entry["EventBusName"] = event_bus
    return entry


__all__ = ["DEFAULT_BATCH_LOG_GROUP", "MAX_ENTRIES_PER_CALL", "PUBLISHED_SKIPS", "SCHEMA_VERSION", "SOURCE",
           "DetailType", "decision_detail", "detail_type_for", "exit_code", "job_fields", "log_location",
           "put_events_entry"]
