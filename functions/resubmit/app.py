"""Lambda handler: resubmit AWS Batch jobs that failed because their Spot host was reclaimed.

Pipeline (modules/spot-resubmit): EventBridge rule on ``aws.batch`` "Batch Job State Change" with
``status: FAILED`` -> encrypted SQS queue (redrive to a DLQ) -> event source mapping with
``ReportBatchItemFailures`` -> ``app.handler``. The queue absorbs bursts (one reclaim can fail
hundreds of jobs while SubmitJob allows about 50 calls per second per account) and keeps every
event until it is handled. A bare EventBridge event (direct invocation) is handled too.

Per failed job (the EventBridge event in the SQS record body; the event's ``detail`` already
carries the job as submitted, so no DescribeJobs per event):

1. a malformed record fails (logged); SQS redelivers it and, after ``maxReceiveCount`` receives,
   moves it to the DLQ: nothing is dropped;
2. anything that is not a FAILED job whose statusReason says the host was reclaimed
   (:func:`reclaim.classify`, patterns in docs/classification.md), array parents and multi-node
   jobs are skipped;
3. past ``SPOTKIT_MAX_RESUBMISSIONS`` resubmissions of the lineage: no resubmission, a WARNING log
   and an alert with the lineage on ``SPOTKIT_ALERT_TOPIC_ARN`` (metric ``budget-exhausted``);
4. otherwise the job is claimed in the idempotency table (:mod:`ledger`: a duplicate delivery of a
   job already resubmitted is a ``duplicate``), resubmitted with everything it was submitted with
   plus lineage tags, to the on-demand fallback queue from its ``SPOTKIT_FALLBACK_AFTER_LOSSES``-th
   Spot loss on (metric ``fallback``), and the claim is completed with the new job id.

Array children of one parent reclaimed together (same batch, same resubmission shape) come back as
one array job of size k with ``SPOTKIT_ARRAY_INDEX_MAP`` (new index -> original index); a lone
child comes back as a single job with ``SPOTKIT_ARRAY_INDEX``. Jobs read their original index with
``spotkit.runtime.original_array_index()`` (docs/arrays.md).

Throttling: SubmitJob answers ``TooManyRequestsException`` (HTTP 429) above the account's rate.
Each invocation paces its calls at ``SPOTKIT_SUBMIT_JOB_RATE`` per second (the module's budget
divided by the mapping's maximum concurrency), so throttles are rare; when one happens (other
submitters share the quota) the function backs off (exponential, full jitter) within the
invocation's remaining time; a record still throttled fails and comes back from SQS later.
botocore's own retries are off for the Batch client, because retrying a SubmitJob whose response
was lost would create a second job.

Lost responses: SubmitJob has no client token. When a SubmitJob ends without a definite answer
(read timeout, connection closed, HTTP 5xx) and whenever a record is redelivered
(``ApproximateReceiveCount`` > 1), the function first looks for a job it already submitted for the
failed job (ListJobs by name in the target queue since the failure, DescribeJobs for the
``spotkit:previous-job-id`` tag) and adopts it instead of submitting again.

Configuration (environment variables): ``SPOTKIT_MAX_RESUBMISSIONS`` (default 3),
``SPOTKIT_RECLAIM_PATTERNS`` (JSON array of globs), ``SPOTKIT_ALERT_TOPIC_ARN``,
``SPOTKIT_IDEMPOTENCY_TABLE`` / ``SPOTKIT_IDEMPOTENCY_TTL_SECONDS`` (default 604800),
``SPOTKIT_FALLBACK_JOB_QUEUE`` / ``SPOTKIT_FALLBACK_AFTER_LOSSES`` (default 2),
``SPOTKIT_SUBMIT_JOB_RATE`` (calls per second per invocation, default 0 = unpaced), Powertools'
``POWERTOOLS_SERVICE_NAME`` (the metrics' ``service`` dimension), ``POWERTOOLS_METRICS_NAMESPACE``
(default ``spotkit``), ``POWERTOOLS_LOG_LEVEL``. ``AWS_ENDPOINT_URL`` points boto3 at an emulator.

EMF metrics: ``resubmitted``, ``fallback``, ``duplicate``, ``budget-exhausted``,
``skipped-not-spot``, ``skipped`` (other skips), ``malformed-event``, ``throttled``,
``array-groups``, ``recovered-submission``, ``failed``.

Permissions: batch:SubmitJob + batch:TagResource, batch:DescribeJobs and batch:ListJobs, sns:Publish
on the alert topic, DynamoDB Get/Put/Update/DeleteItem on the idempotency table, and SQS
consume on the events queue (for the event source mapping).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import reclaim
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from ledger import Busy, Done, Ledger, NoLedger
from reclaim import Decision, JobStateChange, Lineage, MalformedEventError

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "spotkit-resubmit")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "spotkit")


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
# A batch whose every record failed is answered like any other (all ids in batchItemFailures) rather
# than by raising: same effect on the queue, and the failures are already logged per record.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# Plain botocore clients: importing boto3 (and s3transfer with it) would add ~100 ms to every cold
# start. No botocore retries on Batch: SubmitJob is not idempotent (see "Lost responses" above);
# throttling is retried by _submit_job, reads fail the record and SQS retries it.
_session = botocore.session.get_session()
batch = _session.create_client("batch", config=Config(retries={"mode": "standard", "max_attempts": 1}))


@functools.lru_cache(maxsize=None)
def _sns():
    """The SNS client, created on first use (only budget alerts need it)."""
    return _session.create_client("sns")

#: Decision -> EMF metric name.
METRIC_NAMES = {
    Decision.RESUBMITTED: "resubmitted",
    Decision.SKIPPED_DUPLICATE: "duplicate",
    Decision.BUDGET_EXHAUSTED: "budget-exhausted",
    Decision.SKIPPED_NOT_RECLAIM: "skipped-not-spot",
}
#: Error codes with which AWS APIs say "slow down"; SubmitJob's is TooManyRequestsException (429).
THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
#: Backoff of throttled SubmitJob calls: full jitter, base and ceiling in seconds.
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0
#: Time kept back from the invocation's deadline for bookkeeping, in seconds.
DEADLINE_MARGIN_SECONDS = 5.0
#: Waits (seconds) before each lookup of a SubmitJob whose response was lost (ListJobs is
#: eventually consistent); if none finds it the record fails and the redelivery looks again.
LOOKUP_DELAYS_SECONDS = (0.0, 2.0)


class _Pacer:
    """Spaces SubmitJob calls of this execution environment ``1 / SPOTKIT_SUBMIT_JOB_RATE`` seconds
    apart (an environment runs one invocation at a time, so this is the per-invocation rate)."""

    def __init__(self) -> None:
        self.next_slot = 0.0

    def wait(self) -> None:
        rate = reclaim.submit_job_rate()
        if rate <= 0:
            return
        now = time.monotonic()
        if self.next_slot > now:
            time.sleep(self.next_slot - now)
            now = self.next_slot
        self.next_slot = now + 1.0 / rate


pacer = _Pacer()


class SubmitThrottled(Exception):
    """SubmitJob was still throttled when the invocation's time for backing off ran out."""


def _count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@functools.lru_cache(maxsize=None)
def _ledger_for(table: str, ttl_seconds: int) -> Ledger:
    return Ledger(table, ttl_seconds)


def _ledger() -> Ledger | NoLedger:
    table = os.environ.get("SPOTKIT_IDEMPOTENCY_TABLE", "").strip()
    if not table:
        return NoLedger()
    return _ledger_for(table, int(os.environ.get("SPOTKIT_IDEMPOTENCY_TTL_SECONDS") or 7 * 24 * 3600))


def _remaining_ms(context: LambdaContext | None) -> int | None:
    return context.get_remaining_time_in_millis() if context is not None else None


def _remaining_seconds(context: LambdaContext | None) -> float:
    ms = _remaining_ms(context)
    return 60.0 if ms is None else ms / 1000


@dataclass
class Work:
    """A failed job that will be resubmitted (``kind`` "resubmit") or alerted on ("budget")."""

    kind: str
    job: JobStateChange
    reason: str
    lineage: Lineage
    queue: str = ""
    fallback: bool = False
    request: dict[str, Any] = field(default_factory=dict)
    redelivered: bool = False
    inherited: dict[str, str] = field(default_factory=dict)

    @property
    def log_keys(self) -> dict[str, Any]:
        return {"job_id": self.job.job_id, "job_name": self.job.job_name, "job_queue": self.job.job_queue,
                "lineage": self.lineage.as_dict(), "status_reason": self.reason}

    @property
    def group_key(self) -> tuple[str, str] | None:
        """Children with equal keys can share one resubmitted array job; None for non-children."""
        parent = self.job.array_parent_id
        if self.kind != "resubmit" or parent is None:
            return None
        return parent, reclaim.array_group_key(self.request)


def _parent_tags(job: JobStateChange, cache: dict[str, dict[str, str]]) -> dict[str, str]:
    """The array parent's tags (Batch does not copy tags onto children; the parent carries the user's
    tags and, for a regrouped resubmission, the lineage): one DescribeJobs per parent per
    invocation; {} when the parent no longer exists.

    Raises:
        botocore.exceptions.ClientError: DescribeJobs failed; the record is retried rather than
            resubmitted with a wrong lineage (which could overrun the resubmission budget).
    """
    parent_id = job.array_parent_id
    if not parent_id or job.tags:
        return {}
    if parent_id not in cache:
        jobs = batch.describe_jobs(jobs=[parent_id]).get("jobs") or []
        cache[parent_id] = dict((jobs[0].get("tags") or {}) if jobs else {})
    return cache[parent_id]


def _result(decision: Decision, job: JobStateChange | None, reason: str, **extra: Any) -> dict[str, Any]:
    return {"decision": decision.value, "jobId": job.job_id if job else None, "reason": reason, **extra}


def prepare(event: Any, *, redelivered: bool = False,
            parents: dict[str, dict[str, str]] | None = None) -> Work | dict[str, Any]:
    """Classify one EventBridge event: a final result (skipped) or the :class:`Work` to do.

    Raises:
        reclaim.MalformedEventError: the event cannot be parsed.
        ValueError: invalid ``SPOTKIT_*`` configuration.
    """
    job = reclaim.parse_event(event)
    if job is None:
        _count("skipped")
        logger.info("skipped: not a Batch Job State Change event",
                    extra={"decision": Decision.SKIPPED_NOT_BATCH_EVENT.value, "source": event.get("source"),
                           "detail_type": event.get("detail-type")})
        return _result(Decision.SKIPPED_NOT_BATCH_EVENT, None, "not a Batch event")
    skip, reason = reclaim.classify(job, reclaim.reclaim_patterns())
    if skip is not None:
        _count(METRIC_NAMES.get(skip, "skipped"))
        logger.info(f"skipped: {skip.value}", extra={"decision": skip.value, "job_id": job.job_id,
                                                     "status": job.status, "status_reason": reason})
        return _result(skip, job, reason)
    inherited = _parent_tags(job, {} if parents is None else parents)
    lineage = job.lineage(inherited)
    if lineage.count >= reclaim.max_resubmissions():
        return Work("budget", job, reason, lineage, inherited=inherited)
    queue, fallback = reclaim.target_job_queue(job, lineage)
    request = reclaim.build_submit_request(job, lineage, inherited, job_queue=queue)
    return Work("resubmit", job, reason, lineage, queue, fallback, request, redelivered, inherited)


def _alert_budget_exhausted(works: list[Work]) -> bool:
    """Publish one alert for ``works`` (one job, or children of one array parent) to
    ``SPOTKIT_ALERT_TOPIC_ARN``; False when no topic is configured."""
    topic = os.environ.get("SPOTKIT_ALERT_TOPIC_ARN")
    if not topic:
        return False
    first = works[0]
    message = {
        "event": "spotkit.resubmission_budget_exhausted",
        "jobId": first.job.job_id,
        "jobIds": [w.job.job_id for w in works],
        "jobName": first.job.job_name,
        "jobQueue": first.job.job_queue,
        "jobDefinition": first.job.job_definition,
        "statusReason": first.reason,
        "maxResubmissions": reclaim.max_resubmissions(),
        "lineage": first.lineage.as_dict(),
    }
    _sns().publish(TopicArn=topic, Subject=f"spotkit: resubmission budget exhausted for {first.job.job_name}"[:100],
                Message=json.dumps(message, sort_keys=True),
                MessageAttributes={"event": {"DataType": "String",
                                             "StringValue": "spotkit.resubmission_budget_exhausted"}})
    return True


def _budget_exhausted(works: list[Work]) -> list[dict[str, Any]]:
    alerted = _alert_budget_exhausted(works)
    _count(METRIC_NAMES[Decision.BUDGET_EXHAUSTED], len(works))
    results = []
    for w in works:
        logger.warning("not resubmitting: resubmission budget exhausted",
                       extra={**w.log_keys, "decision": Decision.BUDGET_EXHAUSTED.value,
                              "max_resubmissions": reclaim.max_resubmissions(), "alert_published": alerted})
        results.append(_result(Decision.BUDGET_EXHAUSTED, w.job, w.reason, lineage=w.lineage.as_dict(),
                               alertPublished=alerted))
    return results


@tracer.capture_method
def _submit_job(request: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """SubmitJob paced at ``SPOTKIT_SUBMIT_JOB_RATE`` and with backoff on throttling
    (https://docs.aws.amazon.com/batch/latest/APIReference/CommonErrors.html).

    Raises:
        SubmitThrottled: still throttled when the invocation's backoff time ran out.
        botocore.exceptions.ClientError / BotoCoreError: any other failure.
    """
    attempt = 0
    while True:
        pacer.wait()
        try:
            return batch.submit_job(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") not in THROTTLE_CODES and status != 429:
                raise
            _count("throttled")
            attempt += 1
            pause = random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt))
            if _remaining_seconds(context) - pause < DEADLINE_MARGIN_SECONDS:
                raise SubmitThrottled(f"SubmitJob still throttled after {attempt} attempts") from exc
            time.sleep(pause)


def _ambiguous(exc: Exception) -> bool:
    """True when a failed SubmitJob may nevertheless have created the job (no definite answer)."""
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)):
        return True
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500
    return False


def _find_submitted(work: Work, previous_job_ids: set[str]) -> list[dict[str, Any]]:
    """Jobs in ``work``'s target queue that this function already submitted for one of
    ``previous_job_ids``: same name, created since the failure, tagged ``spotkit:previous-job-id``.
    Batch calls: ListJobs (paginated) + one DescribeJobs per 100 candidates."""
    job = work.job
    since = job.raw.get("stoppedAt") or job.raw.get("createdAt") or 0
    filters = [{"name": "JOB_NAME", "values": [job.job_name]},
               {"name": "AFTER_CREATED_AT", "values": [str(int(since))]}]
    ids: list[str] = []
    for page in batch.get_paginator("list_jobs").paginate(jobQueue=work.queue, filters=filters):
        ids += [s["jobId"] for s in page.get("jobSummaryList", [])]
    found = []
    for i in range(0, len(ids), 100):
        for detail in batch.describe_jobs(jobs=ids[i:i + 100]).get("jobs", []):
            if (detail.get("tags") or {}).get(reclaim.TAG_PREVIOUS_JOB_ID) in previous_job_ids:
                found.append(detail)
    return found


def _adopt_single(work: Work, ledger: Ledger | NoLedger) -> dict[str, Any] | None:
    """If a job was already submitted for ``work`` (lost response), complete the claim with it and
    return the ``resubmitted`` result; else None."""
    for detail in _find_submitted(work, {work.job.job_id}):
        new = {"jobId": detail["jobId"], "jobArn": detail.get("jobArn"), "jobName": detail.get("jobName")}
        ledger.complete(work.job.job_id, new)
        return _resubmitted(work, new, recovered=True)
    return None


def _resubmitted(work: Work, new: dict[str, Any], *, recovered: bool = False) -> dict[str, Any]:
    _count("recovered-submission" if recovered else METRIC_NAMES[Decision.RESUBMITTED])
    if work.fallback:
        _count("fallback")
    logger.info("resubmitted job lost to Spot reclaim" + (" (found the submission whose response was lost)"
                                                           if recovered else ""),
                extra={**work.log_keys, "decision": Decision.RESUBMITTED.value, "new_job_id": new["jobId"],
                       "new_array_index": new.get("arrayIndex"), "target_job_queue": work.queue,
                       "fallback": work.fallback, "resubmission_count": work.lineage.count + 1})
    return _result(Decision.RESUBMITTED, work.job, work.reason, newJobId=new["jobId"], newJobArn=new.get("jobArn"),
                   newArrayIndex=new.get("arrayIndex"), jobQueue=work.queue, fallback=work.fallback,
                   lineage={**work.lineage.as_dict(), "count": work.lineage.count + 1})


def _duplicate(work: Work, previous: dict[str, Any]) -> dict[str, Any]:
    _count(METRIC_NAMES[Decision.SKIPPED_DUPLICATE])
    logger.info("skipped: duplicate delivery, already resubmitted",
                extra={**work.log_keys, "decision": Decision.SKIPPED_DUPLICATE.value,
                       "new_job_id": previous.get("jobId")})
    return _result(Decision.SKIPPED_DUPLICATE, work.job, work.reason, newJobId=previous.get("jobId"),
                   newJobArn=previous.get("jobArn"), newArrayIndex=previous.get("arrayIndex"))


def _in_progress(work: Work, busy: Busy) -> Exception:
    # Imported here: the idempotency package costs ~25 ms of cold start and is rarely needed.
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    return IdempotencyAlreadyInProgressError(
        f"resubmission of job {work.job.job_id} is in progress in another invocation "
        f"(claim expires at {busy.until_ms} ms); retry later")


def act(work: Work, context: LambdaContext | None = None) -> dict[str, Any]:
    """Resubmit one failed job exactly once, or alert when its budget is exhausted.

    Raises:
        IdempotencyAlreadyInProgressError: another invocation holds the claim (retry later).
        SubmitThrottled, botocore.exceptions.ClientError, BotoCoreError: the resubmission failed and
            was not recorded (retry later).
    """
    if work.kind == "budget":
        return _budget_exhausted([work])[0]
    ledger = _ledger()
    claim = ledger.claim(work.job.job_id, _remaining_ms(context))
    if isinstance(claim, Done):
        return _duplicate(work, claim.result)
    if isinstance(claim, Busy):
        raise _in_progress(work, claim)
    try:
        adopted = _adopt_single(work, ledger) if work.redelivered else None
        if adopted:
            return adopted
        try:
            response = _submit_job(work.request, context)
        except Exception as exc:
            if not _ambiguous(exc):
                raise
            for delay in LOOKUP_DELAYS_SECONDS:
                time.sleep(delay)
                adopted = _adopt_single(work, ledger)
                if adopted:
                    return adopted
            raise
    except Exception as exc:
        ledger.release(work.job.job_id, exc)
        raise
    new = {"jobId": response["jobId"], "jobArn": response.get("jobArn"), "jobName": response.get("jobName")}
    ledger.complete(work.job.job_id, new)
    return _resubmitted(work, new)


def _act_group(works: list[Work], context: LambdaContext | None) -> dict[int, Any]:
    """Resubmit k >= 2 reclaimed children of one array parent as array jobs of their original
    indexes (split to fit :func:`reclaim.split_for_arrays`). Returns ``{position in works: result
    dict or exception}``; every child is claimed and completed in the ledger individually."""
    ledger = _ledger()
    out: dict[int, Any] = {}
    claimed: dict[int, Work] = {}
    for pos, w in enumerate(works):
        try:
            claim = ledger.claim(w.job.job_id, _remaining_ms(context))
        except Exception as exc:
            out[pos] = exc
            continue
        if isinstance(claim, Done):
            out[pos] = _duplicate(w, claim.result)
        elif isinstance(claim, Busy):
            out[pos] = _in_progress(w, claim)
        else:
            claimed[pos] = w
    if not claimed:
        return out
    by_index = {reclaim.original_array_index(w.job): pos for pos, w in claimed.items()}
    first = next(iter(claimed.values()))
    parent_id = first.job.array_parent_id
    if any(w.redelivered for w in claimed.values()):  # a previous invocation may have submitted some
        by_job_id = {w.job.job_id: pos for pos, w in claimed.items()}
        for detail in _find_submitted(first, {parent_id, *by_job_id}):
            previous = detail["tags"][reclaim.TAG_PREVIOUS_JOB_ID]
            if previous in by_job_id:  # a lone child's single job (a chunk of one)
                adopted = [(by_job_id[previous], None)]
            else:  # an array job of several children: its map names their original indexes
                env = {e["name"]: e.get("value", "")
                       for e in (detail.get("container") or {}).get("environment") or []}
                mapping = reclaim.decode_index_map(env.get(reclaim.ARRAY_INDEX_MAP_ENV, ""))
                adopted = [(by_index[o], i) for i, o in enumerate(mapping) if o in by_index]
            for pos, new_index in adopted:
                if by_index.pop(reclaim.original_array_index(claimed[pos].job), None) is None:
                    continue  # adopted already
                new = {"jobId": detail["jobId"], "jobArn": detail.get("jobArn"), "arrayIndex": new_index}
                ledger.complete(claimed[pos].job.job_id, new)
                out[pos] = _resubmitted(claimed[pos], new, recovered=True)
    group_lineage = Lineage(original_job_id=first.inherited.get(reclaim.TAG_ORIGINAL_JOB_ID) or parent_id,
                            previous_job_id=parent_id, count=first.lineage.count)
    for chunk in reclaim.split_for_arrays(list(by_index)):
        positions = [by_index[i] for i in chunk]
        if len(chunk) == 1:
            request = claimed[positions[0]].request
        else:
            request = reclaim.build_array_request(first.request, chunk, parent_job_id=parent_id,
                                                  lineage=group_lineage)
        try:
            response = _submit_job(request, context)
        except Exception as exc:
            logger.error("array resubmission failed; its children return to the queue",
                         extra={"parent_job_id": parent_id, "children": len(chunk), "error": str(exc)})
            for pos in positions:
                ledger.release(claimed[pos].job.job_id, exc)
                out[pos] = exc
            continue
        if len(chunk) > 1:
            _count("array-groups")
            logger.info("resubmitted reclaimed array children as one array job",
                        extra={"parent_job_id": parent_id, "new_job_id": response["jobId"], "size": len(chunk),
                               "index_map": reclaim.encode_index_map(chunk)})
        for new_index, pos in enumerate(positions):
            new = {"jobId": response["jobId"], "jobArn": response.get("jobArn"),
                   "arrayIndex": new_index if len(chunk) > 1 else None}
            ledger.complete(claimed[pos].job.job_id, new)
            out[pos] = _resubmitted(claimed[pos], new)
    return out


def _log_failure(exc: Exception, **keys: Any) -> None:
    if isinstance(exc, MalformedEventError):
        _count("malformed-event")
        logger.error("malformed Batch Job State Change event: failing it so it ends in the DLQ",
                     extra={**keys, "error": str(exc)})
    elif type(exc).__name__ == "IdempotencyAlreadyInProgressError":  # see _in_progress
        logger.info("resubmission in progress elsewhere: failing the record for a later retry",
                    extra={**keys, "error": str(exc)})
    elif isinstance(exc, ValueError):
        _count("failed")
        logger.error("invalid spotkit configuration", extra={**keys, "error": str(exc)})
    else:
        _count("failed")
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        logger.error("resubmission failed: the event will be retried", extra={**keys, "error": str(exc),
                                                                            "error_code": code})


def process(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """Decide and act on one bare EventBridge event (no SQS, no grouping).

    Returns:
        ``{"decision", "jobId", "reason"}`` plus, when resubmitted, ``newJobId``, ``newJobArn``,
        ``jobQueue``, ``fallback`` and ``lineage``.

    Raises:
        reclaim.MalformedEventError, ValueError, IdempotencyAlreadyInProgressError, SubmitThrottled,
        botocore errors: see :func:`prepare` and :func:`act` (the invocation fails and is retried).
    """
    try:
        work = prepare(event)
        return act(work, context) if isinstance(work, Work) else work
    except Exception as exc:
        _log_failure(exc, event_id=event.get("id") if isinstance(event, dict) else None)
        raise


def process_sqs_batch(event: dict[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
    """Handle an SQS batch (``{"Records": [...]}``, each body an EventBridge event).

    Returns:
        The partial batch response ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}``
        (Powertools batch processing; Lambda deletes every other record). Failed records come back
        after the queue's visibility timeout and go to the DLQ after ``maxReceiveCount`` receives.
    """
    parents: dict[str, dict[str, str]] = {}
    planned: dict[str, Any] = {}
    for raw in event.get("Records") or []:
        record = SQSRecord(raw)
        try:
            try:
                body = json.loads(record.body)
            except (TypeError, ValueError) as exc:
                raise MalformedEventError(f"SQS message body is not JSON: {exc}") from None
            redelivered = int(record.attributes.approximate_receive_count or 1) > 1
            planned[record.message_id] = prepare(body, redelivered=redelivered, parents=parents)
        except Exception as exc:
            planned[record.message_id] = exc

    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    budget: dict[str, list[str]] = defaultdict(list)
    for message_id, work in planned.items():
        if isinstance(work, Work) and work.group_key is not None:
            groups[work.group_key].append(message_id)
        elif isinstance(work, Work) and work.kind == "budget" and work.job.array_parent_id:
            budget[work.job.array_parent_id].append(message_id)
    outcomes: dict[str, Any] = {}
    for ids in groups.values():
        if len(ids) >= 2:
            for pos, outcome in _act_group([planned[i] for i in ids], context).items():
                outcomes[ids[pos]] = outcome
    for ids in budget.values():
        if len(ids) >= 2:
            try:
                outcomes.update(zip(ids, _budget_exhausted([planned[i] for i in ids])))
            except Exception as exc:
                outcomes.update((i, exc) for i in ids)

    def record_handler(record: SQSRecord) -> dict[str, Any]:
        outcome = outcomes.get(record.message_id, planned.get(record.message_id))
        try:
            if isinstance(outcome, Exception):
                raise outcome
            return act(outcome, context) if isinstance(outcome, Work) else outcome
        except Exception as exc:
            keys = {"message_id": record.message_id}
            if isinstance(outcome, Work):
                keys.update(outcome.log_keys)
            _log_failure(exc, **keys)
            raise

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
