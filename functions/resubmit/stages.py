"""The resubmission pipeline, one stage after the other: parse -> enrich -> decide -> plan -> act.

Each stage takes the previous stage's typed results (a stage error is kept as the record's outcome,
so one bad record never blocks the others):

1. **parse** (:func:`parse`): which job failed and why, from the event alone. Not a Batch event, not
   FAILED, or a reason that is not a host reclaim -> a final :class:`Result` (skipped). Only what
   is left costs Batch calls.
2. **enrich** (:func:`enrich`): ONE DescribeJobs per 100 job ids for the whole batch of records,
   array parents included. The event's ``tags`` is AWS's ``{"resourceArn": ...}`` placeholder and
   a FAILED event may omit ``timeout``, so everything the job was submitted with comes from here. A
   job DescribeJobs no longer returns is handled with what the event has (logged, counted
   ``described-missing``).
3. **decide** (:func:`decide`): lineage (the ``spotkit:lineage`` tag, else ``SPOTKIT_LINEAGE`` in
   the environment of a job whose 50 user tags left no room), budget, target queue --
   :func:`spotkit.core.decide.decide`.
4. **plan** (:func:`plan`): the SubmitJob request of each job, checked against SubmitJob's limits;
   reclaimed children of one array parent with the same request shape form one :class:`Group` (a
   lone child is a group of one, so a child redelivered alone still finds the array job it went
   out in).
5. **act** (:func:`act_single`, :func:`act_group`, :func:`alert_budget`): claim the failed job id in
   the idempotency table, find a submission whose response was lost, submit (moving to the latest
   ACTIVE job-definition revision when the job's own was deregistered), complete the claim.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Union

import batchapi
import publish
from batchapi import NoActiveRevision, active_replacement, batch, is_ambiguous, is_client_error, submit_job
from ledger import Busy, Done, Ledger, NoLedger
from spotkit.core import lineage as lineage_mod
from spotkit.core.classify import Decision, classify
from spotkit.core.config import max_resubmissions, reclaim_patterns
from spotkit.core.decide import Verdict
from spotkit.core.decide import decide as core_decide
from spotkit.core.decisions import decision_detail, detail_type_for
from spotkit.core.indexmap import ARRAY_INDEX_MAP_ENV, decode_index_map, encode_index_map, split_for_arrays
from spotkit.core.job import JobDetail, MalformedEventError, container_environment, parse_event
from spotkit.core.lineage import Lineage, LineageError
from spotkit.core.lookup import describe_jobs, find_successors
from spotkit.core.submit import (
    SubmitRequestError,
    array_group_key,
    build_array_request,
    build_submit_request,
    original_array_index,
    revision_of,
    validate_submit_request,
)
from telemetry import count, logger

#: Decision -> EMF metric name.
METRIC_NAMES = {
    Decision.RESUBMITTED: "resubmitted",
    Decision.SKIPPED_DUPLICATE: "duplicate",
    Decision.BUDGET_EXHAUSTED: "budget-exhausted",
    Decision.SKIPPED_NOT_RECLAIM: "skipped-not-spot",
    Decision.NOT_RESUBMITTABLE: "not-resubmittable",
}
#: Waits (seconds) before each lookup of a SubmitJob whose response was lost (ListJobs is
#: eventually consistent); if none finds it the record fails and the redelivery looks again.
LOOKUP_DELAYS_SECONDS = (0.0, 2.0)

Outcome = Union["Result", Exception]


# ----------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Result:
    """What happened to one record: ``decision``, the failed ``job_id``, the deciding ``reason`` and
    decision-specific fields (``newJobId``, ``jobQueue``, ``lineage``...)."""

    decision: Decision
    job_id: str | None
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)
    #: the failed job as the stage that decided saw it (not part of :meth:`as_dict`).
    job: JobDetail | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision.value, "jobId": self.job_id, "reason": self.reason, **self.extra}


def _skipped(decision: Decision, job: JobDetail | None, reason: str, **log: Any) -> Result:
    count(METRIC_NAMES.get(decision, "skipped"))
    logger.info(f"skipped: {decision.value}", extra={"decision": decision.value, "job_id": job and job.job_id,
                                                      "status_reason": reason, **log})
    return Result(decision, job.job_id if job else None, reason, job=job)


def _announce(decision: Decision, job: JobDetail, reason: str, *, lineage: Lineage | None = None,
              resubmission: dict[str, Any] | None = None, error: str | None = None,
              batch_event_id: str | None = None) -> None:
    """Queue the decision's EventBridge event (:mod:`publish`; sent once per batch by the handler).
    ``job`` is the EVENT's view: the failure as Batch reported it (status, reason, attempts, exit code)."""
    switched = bool(resubmission and resubmission.get("revisionFrom") is not None)
    detail_type = detail_type_for(decision, fallback=bool(resubmission and resubmission.get("fallback")),
                                  revision_switched=switched)
    if detail_type is None:
        return
    publish.record(detail_type, decision_detail(
        decision, job, reason, lineage=lineage, resubmission=resubmission, max_resubmissions=max_resubmissions(),
        error=error, batch_event_id=batch_event_id))


# -------------------------------------------------------------------------------- 1. parse
@dataclass(frozen=True)
class Failure:
    """A job that failed because its host was reclaimed, as the event tells it.

    Attributes:
        key: the SQS message id (or the event id for a bare event).
        job: the event's view of the job (its ``tags`` are a placeholder and never read).
        reason: the statusReason that classified it as a reclaim.
        redelivered: the record was received before (a previous invocation may have submitted).
    """

    key: str
    job: JobDetail
    reason: str
    redelivered: bool = False
    event_id: str | None = None


def parse(key: str, event: Any, *, redelivered: bool = False) -> Failure | Result:
    """Which job failed and why: a :class:`Failure` to carry on with, or a final skipped :class:`Result`.

    Raises:
        MalformedEventError: the event cannot be parsed (the record fails and ends in the DLQ).
        ValueError: invalid ``SPOTKIT_RECLAIM_PATTERNS``.
    """
    job = parse_event(event)
    if job is None:
        return _skipped(Decision.SKIPPED_NOT_BATCH_EVENT, None, "not a Batch event",
                        source=event.get("source"), detail_type=event.get("detail-type"))
    skip, reason = classify(job, reclaim_patterns())
    if skip is not None:
        return _skipped(skip, job, reason, status=job.status)
    return Failure(key, job, reason, redelivered, event.get("id") if isinstance(event.get("id"), str) else None)


# ------------------------------------------------------------------------------- 2. enrich
@dataclass(frozen=True)
class Enriched:
    """A failure with the job as DescribeJobs describes it.

    Attributes:
        described: the failed job's JobDetail, None when DescribeJobs no longer returns it.
        parent: an array child's parent JobDetail (its tags are the child's: Batch does not copy
            tags onto children), None otherwise or when not returned.
    """

    failure: Failure
    described: JobDetail | None
    parent: JobDetail | None = None

    @property
    def job(self) -> JobDetail:
        """The best view of the job: DescribeJobs', else the event's."""
        return self.described or self.failure.job

    @property
    def tags(self) -> dict[str, str]:
        """The job's tags, over its array parent's."""
        return {**(self.parent.tags if self.parent else {}), **self.job.tags}


def describe(failures: list[Failure], also: list[str] = ()) -> dict[str, Any] | Exception:
    """ONE DescribeJobs per 100 ids for the batch: every failed job, array parent and the ``also`` ids
    (skipped jobs whose lineage the decision events report). ``{job id: JobDetail}``, or the error."""
    ids = [f.job.job_id for f in failures] + [f.job.array_parent_id for f in failures if f.job.array_parent_id]
    ids += [i for i in also if i not in ids]
    if not ids:
        return {}
    try:
        return describe_jobs(batch, ids)
    except Exception as exc:
        return exc


def enrich(failures: list[Failure], details: dict[str, Any] | Exception | None = None) -> list[Enriched | Exception]:
    """Describe every failed job and array parent of the batch: one DescribeJobs per 100 ids
    (``details``: :func:`describe`'s answer when the caller fetched it already).

    A DescribeJobs error fails every failure of the batch (retried from SQS) rather than resubmitting
    with a guessed lineage, which could overrun the resubmission budget.
    """
    if not failures:
        return []
    if details is None:
        details = describe(failures)
    if isinstance(details, Exception):
        return [details for _ in failures]
    out: list[Enriched | Exception] = []
    for f in failures:
        try:
            raw = details.get(f.job.job_id)
            described = JobDetail.parse(raw, from_event=False, where="DescribeJobs") if raw else None
            parent_id = f.job.array_parent_id
            parent_raw = details.get(parent_id) if parent_id else None
            parent = JobDetail.parse(parent_raw, from_event=False, where="DescribeJobs") if parent_raw else None
        except MalformedEventError as exc:
            out.append(exc)
            continue
        if described is None:
            count("described-missing")
            logger.warning("DescribeJobs no longer returns the failed job: resubmitting with what the event has "
                           "(no tags, no timeout unless the event carries them)",
                           extra={"job_id": f.job.job_id, "job_name": f.job.job_name})
        if parent_id and parent is None:
            logger.warning("DescribeJobs no longer returns the array parent: the child comes back without its "
                           "parent's tags", extra={"job_id": f.job.job_id, "parent_job_id": parent_id})
        out.append(Enriched(f, described, parent))
    return out


# ------------------------------------------------------------------------------- 3. decide
@dataclass(frozen=True)
class Decided:
    """An enriched failure with its lineage and :class:`~spotkit.core.decide.Verdict`."""

    enriched: Enriched
    lineage: Lineage
    verdict: Verdict

    @property
    def job(self) -> JobDetail:
        return self.enriched.job

    @property
    def log_keys(self) -> dict[str, Any]:
        job = self.job
        return {"job_id": job.job_id, "job_name": job.job_name, "job_queue": job.job_queue,
                "lineage": self.lineage.as_dict(), "status_reason": self.verdict.reason}


def lineage_of(enriched: Enriched) -> Lineage:
    """The failed job's lineage: its ``spotkit:lineage`` tag (an array child's: its parent's), else
    ``SPOTKIT_LINEAGE`` in its environment (a job with 50 user tags), else a new lineage (count 0).

    Raises:
        MalformedEventError: the lineage tag or variable is malformed (the record ends in the DLQ,
            not resubmitted with a guessed count).
    """
    job = enriched.job
    try:
        found = lineage_mod.read_job(enriched.tags, job.environment, job.job_id)
    except LineageError as exc:
        raise MalformedEventError(f"job {job.job_id}: {exc}") from None
    return found or Lineage(job.job_id, job.job_id, 0)


def decide(enriched: Enriched) -> Decided:
    """Lineage + :func:`spotkit.core.decide.decide` (classified on the event's statusReason).

    Raises:
        MalformedEventError, ValueError: see :func:`lineage_of` and the core.
    """
    lineage = lineage_of(enriched)
    return Decided(enriched, lineage, core_decide(enriched.failure.job, lineage))


# --------------------------------------------------------------------------------- 4. plan
@dataclass(frozen=True)
class Planned:
    """A job to resubmit: ``request`` (SubmitJob keyword arguments) for the NEW job's ``next_lineage``."""

    decided: Decided
    request: dict[str, Any]
    next_lineage: Lineage
    lineage_tagged: bool

    @property
    def job(self) -> JobDetail:
        return self.decided.job

    @property
    def group_key(self) -> tuple[str, str] | None:
        """Children with equal keys can share one resubmitted array job; None for non-children."""
        parent = self.job.array_parent_id
        return (parent, array_group_key(self.request)) if parent else None


@dataclass(frozen=True)
class Group:
    """Reclaimed children of one array parent with the same request shape (one or more), resubmitted
    as array jobs of their original indexes (a chunk of one as a single job)."""

    parent_id: str
    members: list[Planned]


def plan(decided: Decided) -> Planned:
    """The SubmitJob request that reruns the job, checked against SubmitJob's documented limits.

    Raises:
        SubmitRequestError: the request would break a SubmitJob limit (alerted, ends in the DLQ).
        MalformedEventError: a malformed array index variable on the job.
    """
    job, lineage = decided.job, decided.lineage
    next_lineage = lineage.successor(job.job_id)
    request, tagged = build_submit_request(job, next_lineage, decided.enriched.tags,
                                           job_queue=decided.verdict.job_queue)
    validate_submit_request(request)
    return Planned(decided, request, next_lineage, tagged)


def group(planned: list[tuple[str, Planned]]) -> tuple[list[tuple[str, Planned]], list[tuple[list[str], Group]]]:
    """Split ``[(key, Planned)]`` into single jobs and :class:`Group` s: every array child belongs to
    a group (children of one parent with the same request shape; a lone child is a group of one)."""
    by_key: dict[tuple[str, str], list[tuple[str, Planned]]] = defaultdict(list)
    singles = []
    for key, p in planned:
        gk = p.group_key
        if gk is None:
            singles.append((key, p))
        else:
            by_key[gk].append((key, p))
    groups = []
    for (parent, _), members in by_key.items():
        groups.append(([k for k, _ in members], Group(parent, [p for _, p in members])))
    return singles, groups


# ---------------------------------------------------------------------------------- 5. act
@dataclass
class Invocation:
    """What the act stage needs from the invocation: the ledger, the remaining time (seconds) and a
    per-invocation cache of job-definition revisions."""

    ledger: Ledger | NoLedger
    remaining_seconds: Callable[[], float]
    revisions: dict[str, str | None] = field(default_factory=dict)

    def remaining_ms(self) -> int:
        return int(self.remaining_seconds() * 1000)


def _publish(subject: str, message: dict[str, Any]) -> bool:
    """Publish an alert to ``SPOTKIT_ALERT_TOPIC_ARN``; False when no topic is configured."""
    topic = os.environ.get("SPOTKIT_ALERT_TOPIC_ARN")
    if not topic:
        return False
    batchapi.sns().publish(TopicArn=topic, Subject=subject[:100], Message=json.dumps(message, sort_keys=True),
                           MessageAttributes={"event": {"DataType": "String", "StringValue": message["event"]}})
    return True


def alert_budget(decided: list[Decided]) -> list[Result]:
    """One alert for ``decided`` (one job, or children of one array parent) whose budget is spent."""
    first = decided[0]
    job = first.job
    alerted = _publish(f"spotkit: resubmission budget exhausted for {job.job_name}", {
        "event": "spotkit.resubmission_budget_exhausted", "jobId": job.job_id,
        "jobIds": [d.job.job_id for d in decided], "jobName": job.job_name, "jobQueue": job.job_queue,
        "jobDefinition": job.job_definition, "statusReason": first.verdict.reason,
        "maxResubmissions": max_resubmissions(), "lineage": first.lineage.as_dict()})
    count(METRIC_NAMES[Decision.BUDGET_EXHAUSTED], len(decided))
    results = []
    for d in decided:
        _announce(Decision.BUDGET_EXHAUSTED, d.enriched.failure.job, d.verdict.reason, lineage=d.lineage,
                  batch_event_id=d.enriched.failure.event_id)
        logger.warning("not resubmitting: resubmission budget exhausted",
                       extra={**d.log_keys, "decision": Decision.BUDGET_EXHAUSTED.value,
                              "max_resubmissions": max_resubmissions(), "alert_published": alerted})
        results.append(Result(Decision.BUDGET_EXHAUSTED, d.job.job_id, d.verdict.reason,
                              {"lineage": d.lineage.as_dict(), "alertPublished": alerted}))
    return results


def alert_not_resubmittable(decided: Decided, error: Exception) -> None:
    """Alert that a reclaimed job cannot be resubmitted (no ACTIVE revision, a SubmitJob limit)."""
    count("no-active-revision" if isinstance(error, NoActiveRevision) else METRIC_NAMES[Decision.NOT_RESUBMITTABLE])
    job = decided.job
    alerted = _publish(f"spotkit: cannot resubmit {job.job_name}", {
        "event": "spotkit.not_resubmittable", "jobId": job.job_id, "jobName": job.job_name,
        "jobQueue": job.job_queue, "jobDefinition": job.job_definition, "error": str(error),
        "lineage": decided.lineage.as_dict()})
    failure = decided.enriched.failure
    _announce(Decision.NOT_RESUBMITTABLE, failure.job, decided.verdict.reason, lineage=decided.lineage,
              error=str(error), batch_event_id=failure.event_id)
    logger.error("cannot resubmit the reclaimed job: alerted, the record goes to the DLQ",
                 extra={**decided.log_keys, "error": str(error), "alert_published": alerted})


def _submit(request: dict[str, Any], lineage: Lineage, inv: Invocation, decided: Decided) -> dict[str, Any]:
    """SubmitJob; when Batch refuses it because the revision is INACTIVE, again on the latest ACTIVE
    revision of the family, recording the switch in the lineage tag, a log line and a metric.

    Raises:
        NoActiveRevision: refused, and the family has no ACTIVE revision (alerted).
        SubmitThrottled, botocore errors: see :func:`batchapi.submit_job`.
    """
    try:
        return {**submit_job(request, inv.remaining_seconds), "jobDefinition": request["jobDefinition"]}
    except Exception as exc:
        if not is_client_error(exc):
            raise
        try:
            replacement = active_replacement(request["jobDefinition"], inv.revisions)
        except NoActiveRevision as missing:
            alert_not_resubmittable(decided, missing)
            raise
        if replacement is None:  # refused for another reason: retrying will not help, say so
            alert_not_resubmittable(decided, exc)
            raise
    _, old_revision = revision_of(request["jobDefinition"])
    switched = dataclasses.replace(lineage, revision_from=old_revision)
    tags = lineage_mod.with_lineage(request.get("tags") or {}, switched)[0] \
        if lineage_mod.TAG_LINEAGE in (request.get("tags") or {}) else request.get("tags")
    count("revision-switched")
    logger.warning("job definition revision is INACTIVE (deregistered, e.g. by a deploy): resubmitting on the "
                   "latest ACTIVE revision", extra={**decided.log_keys, "job_definition": request["jobDefinition"],
                                                    "new_job_definition": replacement})
    response = submit_job({**request, "jobDefinition": replacement, "tags": tags}, inv.remaining_seconds)
    return {**response, "jobDefinition": replacement, "revisionFrom": old_revision}


def _definition_used(response: dict[str, Any]) -> dict[str, Any]:
    """``jobDefinition`` (and ``revisionFrom`` when :func:`_submit` moved to a newer revision) of a submission."""
    return {k: response[k] for k in ("jobDefinition", "revisionFrom") if response.get(k) is not None}


def _resubmitted(p: Planned, new: dict[str, Any], *, recovered: bool = False) -> Result:
    d = p.decided
    count("recovered-submission" if recovered else METRIC_NAMES[Decision.RESUBMITTED])
    if d.verdict.fallback:
        count("fallback")
    logger.info("resubmitted job lost to Spot reclaim" + (" (found the submission whose response was lost)"
                                                           if recovered else ""),
                extra={**d.log_keys, "decision": Decision.RESUBMITTED.value, "new_job_id": new["jobId"],
                       "new_array_index": new.get("arrayIndex"), "target_job_queue": d.verdict.job_queue,
                       "fallback": d.verdict.fallback, "resubmission_count": p.next_lineage.count})
    _announce(Decision.RESUBMITTED, d.enriched.failure.job, d.verdict.reason, lineage=d.lineage, resubmission={
        "jobId": new["jobId"], "jobArn": new.get("jobArn"), "arrayIndex": new.get("arrayIndex"),
        "jobQueue": d.verdict.job_queue, "fallback": d.verdict.fallback,
        "jobDefinition": new.get("jobDefinition") or p.request.get("jobDefinition"),
        "revisionFrom": new.get("revisionFrom")}, batch_event_id=d.enriched.failure.event_id)
    return Result(Decision.RESUBMITTED, p.job.job_id, d.verdict.reason, {
        "newJobId": new["jobId"], "newJobArn": new.get("jobArn"), "newArrayIndex": new.get("arrayIndex"),
        "jobQueue": d.verdict.job_queue, "fallback": d.verdict.fallback, "lineage": p.next_lineage.as_dict()},
        job=p.job)


def _duplicate(p: Planned, previous: dict[str, Any]) -> Result:
    count(METRIC_NAMES[Decision.SKIPPED_DUPLICATE])
    logger.info("skipped: duplicate delivery, already resubmitted",
                extra={**p.decided.log_keys, "decision": Decision.SKIPPED_DUPLICATE.value,
                       "new_job_id": previous.get("jobId")})
    return Result(Decision.SKIPPED_DUPLICATE, p.job.job_id, p.decided.verdict.reason, {
        "newJobId": previous.get("jobId"), "newJobArn": previous.get("jobArn"),
        "newArrayIndex": previous.get("arrayIndex")})


def _in_progress(job_id: str, busy: Busy) -> Exception:
    # Imported here: the idempotency package costs ~25 ms of cold start and is rarely needed.
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    return IdempotencyAlreadyInProgressError(
        f"resubmission of job {job_id} is in progress in another invocation "
        f"(claim expires at {busy.until_ms} ms); retry later")


def _complete(p: Planned, new: dict[str, Any], inv: Invocation) -> None:
    inv.ledger.complete(p.job.job_id, new)
    if not p.lineage_tagged:
        count("lineage-untagged")
        logger.warning("the job has 50 user tags: no room for the lineage tag; lineage in its SPOTKIT_LINEAGE "
                       "environment variable", extra={**p.decided.log_keys, "new_job_id": new["jobId"]})


def _successors(p: Planned, previous_ids: set[str]) -> list[dict[str, Any]]:
    job = p.job
    since = job.raw.get("stoppedAt") or job.raw.get("createdAt") or 0
    return find_successors(batch, job_queue=p.request["jobQueue"], job_name=p.request["jobName"],
                           since_ms=since, previous_job_ids=previous_ids)


def _adopt_single(p: Planned, inv: Invocation) -> Result | None:
    """If a job was already submitted for ``p`` (lost response), complete the claim with it."""
    for detail in _successors(p, {p.job.job_id}):
        new = {"jobId": detail["jobId"], "jobArn": detail.get("jobArn"), "jobName": detail.get("jobName")}
        _complete(p, new, inv)
        return _resubmitted(p, new, recovered=True)
    return None


def act_single(p: Planned, inv: Invocation) -> Result:
    """Resubmit one failed job exactly once.

    Raises:
        IdempotencyAlreadyInProgressError: another invocation holds the claim (retry later).
        NoActiveRevision, SubmitThrottled, botocore errors: the resubmission failed and was not
            recorded (retry later; the DLQ after ``maxReceiveCount``).
    """
    job_id = p.job.job_id
    claim = inv.ledger.claim(job_id, inv.remaining_ms())
    if isinstance(claim, Done):
        return _duplicate(p, claim.result)
    if isinstance(claim, Busy):
        raise _in_progress(job_id, claim)
    try:
        adopted = _adopt_single(p, inv) if p.decided.enriched.failure.redelivered else None
        if adopted:
            return adopted
        try:
            response = _submit(p.request, p.next_lineage, inv, p.decided)
        except Exception as exc:
            if not is_ambiguous(exc):
                raise
            for delay in LOOKUP_DELAYS_SECONDS:
                time.sleep(delay)
                adopted = _adopt_single(p, inv)
                if adopted:
                    return adopted
            raise
    except Exception as exc:
        inv.ledger.release(job_id, exc)
        raise
    new = {"jobId": response["jobId"], "jobArn": response.get("jobArn"), "jobName": response.get("jobName"),
           **_definition_used(response)}
    _complete(p, new, inv)
    return _resubmitted(p, new)


def act_group(g: Group, inv: Invocation) -> list[Outcome]:
    """Resubmit a :class:`Group` as array jobs of the children's original indexes (split to fit
    :func:`spotkit.core.indexmap.split_for_arrays`; a chunk of one is a single job). Returns one
    outcome per member, in order; every child is claimed and completed in the ledger individually.
    The same child twice in one batch is handled once; its other records get the same outcome."""
    members = g.members
    out: dict[int, Outcome] = {}
    claimed: dict[int, Planned] = {}
    first_of: dict[str, int] = {}
    for pos, p in enumerate(members):
        if p.job.job_id in first_of:
            continue
        first_of[p.job.job_id] = pos
        try:
            claim = inv.ledger.claim(p.job.job_id, inv.remaining_ms())
        except Exception as exc:
            out[pos] = exc
            continue
        if isinstance(claim, Done):
            out[pos] = _duplicate(p, claim.result)
        elif isinstance(claim, Busy):
            out[pos] = _in_progress(p.job.job_id, claim)
        else:
            claimed[pos] = p
    if claimed:
        try:
            _submit_group(g, claimed, out, inv)
        except Exception as exc:  # the lookup failed before anything was submitted: retry them all later
            logger.error("array resubmission failed before submitting; its children return to the queue",
                         extra={"parent_job_id": g.parent_id, "children": len(claimed), "error": str(exc)})
            for pos, p in claimed.items():
                if pos not in out:
                    inv.ledger.release(p.job.job_id, exc)
                    out[pos] = exc
    return [out.get(pos, out.get(first_of[p.job.job_id])) for pos, p in enumerate(members)]


def _submit_group(g: Group, claimed: dict[int, Planned], out: dict[int, Outcome], inv: Invocation) -> None:
    by_index = {original_array_index(p.job): pos for pos, p in claimed.items()}
    first = next(iter(claimed.values()))
    if any(p.decided.enriched.failure.redelivered for p in claimed.values()):  # some may be submitted already
        by_job_id = {p.job.job_id: pos for pos, p in claimed.items()}
        for detail in _successors(first, {g.parent_id, *by_job_id}):
            env = container_environment(detail)
            previous = lineage_mod.previous_job_id(detail.get("tags") or {}, env)
            if previous in by_job_id:  # a lone child's single job (a chunk of one)
                adopted = [(by_job_id[previous], None)]
            else:  # an array job of several children: its map names their original indexes
                mapping = decode_index_map(env.get(ARRAY_INDEX_MAP_ENV) or "0")
                adopted = [(by_index[o], i) for i, o in enumerate(mapping) if o in by_index]
            for pos, new_index in adopted:
                if by_index.pop(original_array_index(claimed[pos].job), None) is None:
                    continue  # adopted already
                new = {"jobId": detail["jobId"], "jobArn": detail.get("jobArn"), "arrayIndex": new_index}
                out[pos] = _completed(claimed[pos], new, inv, recovered=True)
    # The regrouped array job's lineage: previous = the failed parent, original = the parent's lineage's.
    parent_lineage = first.decided.lineage
    original = parent_lineage.original_job_id if parent_lineage.count else g.parent_id
    group_lineage = Lineage(original, g.parent_id, parent_lineage.count + 1)
    for chunk in split_for_arrays(list(by_index)):
        positions = [by_index[i] for i in chunk]
        if len(chunk) == 1:
            p = claimed[positions[0]]
            request, lineage = p.request, p.next_lineage
        else:
            request = build_array_request(first.request, chunk, lineage=group_lineage)
            lineage = group_lineage
        try:
            validate_submit_request(request)
            response = _submit(request, lineage, inv, first.decided)
        except Exception as exc:
            logger.error("array resubmission failed; its children return to the queue",
                         extra={"parent_job_id": g.parent_id, "children": len(chunk), "error": str(exc)})
            for pos in positions:
                inv.ledger.release(claimed[pos].job.job_id, exc)
                out[pos] = exc
            continue
        if len(chunk) > 1:
            count("array-groups")
            logger.info("resubmitted reclaimed array children as one array job",
                        extra={"parent_job_id": g.parent_id, "new_job_id": response["jobId"], "size": len(chunk),
                               "index_map": encode_index_map(chunk)})
        for new_index, pos in enumerate(positions):
            new = {"jobId": response["jobId"], "jobArn": response.get("jobArn"), **_definition_used(response),
                   "arrayIndex": new_index if len(chunk) > 1 else None}
            out[pos] = _completed(claimed[pos], new, inv)


def _completed(p: Planned, new: dict[str, Any], inv: Invocation, *, recovered: bool = False) -> Outcome:
    """Complete the claim of a submitted child; a failure to record it fails the record (its claim
    stays until it expires, and the redelivery finds the submitted job instead of submitting again)."""
    try:
        _complete(p, new, inv)
    except Exception as exc:
        logger.error("submitted, but the idempotency record could not be completed; the redelivery will adopt it",
                     extra={**p.decided.log_keys, "new_job_id": new["jobId"], "error": str(exc)})
        return exc
    return _resubmitted(p, new, recovered=recovered)


# ------------------------------------------------------------------------------- the batch
def _announce_skip(result: Result, details: dict[str, Any] | Exception, event_id: str | None) -> None:
    """Queue the "Job Not Resubmitted" event of a job skipped at parse, with its lineage when
    DescribeJobs returned the job (else the lineage is reported as a fresh one: ``count`` 0 -- logged)."""
    job = result.job
    lineage = None
    raw = details.get(job.job_id) if isinstance(details, dict) else None
    if raw is not None:
        try:
            described = JobDetail.parse(raw, from_event=False, where="DescribeJobs")
            parent = None
            if job.array_parent_id and isinstance(details.get(job.array_parent_id), dict):
                parent = JobDetail.parse(details[job.array_parent_id], from_event=False, where="DescribeJobs")
            tags = {**(parent.tags if parent else {}), **described.tags}
            lineage = lineage_mod.read_job(tags, described.environment, job.job_id)
        except (MalformedEventError, LineageError) as exc:
            logger.warning("skipped job: its lineage is unreadable; reported as a fresh lineage",
                           extra={"job_id": job.job_id, "error": str(exc)})
    elif isinstance(details, Exception):
        logger.warning("skipped job: DescribeJobs failed, its lineage is reported as a fresh lineage",
                       extra={"job_id": job.job_id, "error": str(details)})
    _announce(result.decision, job, result.reason, lineage=lineage, batch_event_id=event_id)


def run(items: list[tuple[str, Any, bool]], inv: Invocation) -> dict[str, Outcome]:
    """Every stage over a batch of ``(key, event or exception, redelivered)``; one outcome per key
    (a :class:`Result`, or the exception that fails the record)."""
    outcomes: dict[str, Outcome] = {}
    failures: list[Failure] = []
    announced: list[tuple[Result, str | None]] = []  # skips published as "Job Not Resubmitted"
    for key, event, redelivered in items:                                     # 1. parse
        try:
            if isinstance(event, Exception):
                raise event
            parsed = parse(key, event, redelivered=redelivered)
        except Exception as exc:
            outcomes[key] = exc
            continue
        if isinstance(parsed, Result):
            outcomes[key] = parsed
            if parsed.job is not None and detail_type_for(parsed.decision) is not None and publish.bus():
                announced.append((parsed, event.get("id") if isinstance(event.get("id"), str) else None))
        else:
            failures.append(parsed)
    # One DescribeJobs round for the whole batch: the reclaimed jobs' requests and, when decisions are
    # published, the lineage of the skipped jobs (a skip never fails on it; see _announce_skip).
    details = describe(failures, [i for r, _ in announced for i in (r.job.job_id, r.job.array_parent_id) if i])
    for result, event_id in announced:
        _announce_skip(result, details, event_id)
    planned: list[tuple[str, Planned]] = []
    budget: dict[str, list[tuple[str, Decided]]] = defaultdict(list)
    for f, enriched in zip(failures, enrich(failures, details)):              # 2. enrich
        try:
            if isinstance(enriched, Exception):
                raise enriched
            decided = decide(enriched)                                        # 3. decide
            if decided.verdict.decision is Decision.BUDGET_EXHAUSTED:
                budget[f.job.array_parent_id or f.key].append((f.key, decided))
            elif decided.verdict.resubmit:
                try:
                    planned.append((f.key, plan(decided)))                    # 4. plan
                except SubmitRequestError as exc:
                    alert_not_resubmittable(decided, exc)
                    raise
            else:
                outcomes[f.key] = _skipped(decided.verdict.decision, f.job, decided.verdict.reason)
                _announce(decided.verdict.decision, f.job, decided.verdict.reason, lineage=decided.lineage,
                          batch_event_id=f.event_id)
        except Exception as exc:
            outcomes[f.key] = exc
    for members in budget.values():                                           # 5. act
        try:
            outcomes.update(zip([k for k, _ in members], alert_budget([d for _, d in members])))
        except Exception as exc:
            outcomes.update((k, exc) for k, _ in members)
    singles, groups = group(planned)
    for keys, g in groups:
        try:
            outcomes.update(zip(keys, act_group(g, inv)))
        except Exception as exc:
            outcomes.update((k, exc) for k in keys)
    for key, p in singles:
        try:
            outcomes[key] = act_single(p, inv)
        except Exception as exc:
            outcomes[key] = exc
    return outcomes
