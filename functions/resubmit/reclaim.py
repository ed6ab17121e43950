"""Pure decision logic of the resubmission function: parse, classify, build the SubmitJob request.

This module has no AWS calls and no third-party imports, so the Lambda handler (``app.py``), the
``spotkit`` CLI and the tests share one source of truth. It is shipped inside the function's zip;
import it as the top-level module ``reclaim`` (the zip root is on ``sys.path`` in Lambda).

Shapes follow the AWS Batch User Guide, "Job state change events"
(https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html): ``detail`` is close to a
DescribeJobs ``JobDetail``
(https://docs.aws.amazon.com/batch/latest/APIReference/API_JobDetail.html). Unknown fields are
ignored, so new fields AWS adds to the event never break the function.
"""

from __future__ import annotations

import enum
import fnmatch
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: ``detail-type`` and ``source`` of the events this function handles.
EVENT_SOURCE = "aws.batch"
EVENT_DETAIL_TYPE = "Batch Job State Change"

#: Case-sensitive :func:`fnmatch.fnmatchcase` globs matched against a failed job's ``statusReason``.
#: A match means the *host* went away under the job (Spot capacity reclaimed), not that the job's
#: own code failed. ``Host EC2 (instance i-…) terminated.`` is what AWS Batch reports when the EC2
#: instance running the attempt is terminated; ``Your Spot Task was interrupted.`` is the Fargate
#: Spot equivalent. Override with the env var ``SPOTKIT_RECLAIM_PATTERNS`` (a JSON array of globs).
#: Deliberately NOT matched: ``Essential container in task exited``, ``Task failed due to container
#: exit code …``, ``Job attempt duration exceeded timeout``, user terminate/cancel reasons,
#: ``CannotPullContainerError…``, ``DockerTimeoutError…``, ``ResourceInitializationError…``,
#: ``Dependent Job failed`` and ``Array Child Job failed``: resubmitting those would only repeat the
#: failure. Each default is justified against real reasons in docs/classification.md (generated from
#: tests/corpus/status_reasons.json and checked by tests/test_classification_corpus.py).
DEFAULT_RECLAIM_PATTERNS: tuple[str, ...] = (
    "Host EC2 (instance *) terminated*",
    "Your Spot Task was interrupted*",
)
RECLAIM_PATTERNS_ENV = "SPOTKIT_RECLAIM_PATTERNS"

#: Resubmissions allowed per lineage (env ``SPOTKIT_MAX_RESUBMISSIONS``).
DEFAULT_MAX_RESUBMISSIONS = 3
MAX_RESUBMISSIONS_ENV = "SPOTKIT_MAX_RESUBMISSIONS"

#: On-demand fallback: the job queue (ARN or name) that takes a lineage's resubmission once it has
#: lost ``SPOTKIT_FALLBACK_AFTER_LOSSES`` attempts to Spot reclaims. Empty/unset: no fallback.
FALLBACK_QUEUE_ENV = "SPOTKIT_FALLBACK_JOB_QUEUE"
#: SubmitJob calls per second one invocation may make (0 or unset: unpaced, backoff only). The
#: module sets it to its SubmitJob budget divided by the event source mapping's maximum concurrency,
#: so concurrent invocations together stay under the account quota (50/s) instead of colliding.
SUBMIT_JOB_RATE_ENV = "SPOTKIT_SUBMIT_JOB_RATE"
FALLBACK_AFTER_ENV = "SPOTKIT_FALLBACK_AFTER_LOSSES"
DEFAULT_FALLBACK_AFTER_LOSSES = 2

#: Lineage tags put on every resubmitted job. The original job id survives any number of
#: resubmissions; the count is 1 on the first resubmission.
TAG_ORIGINAL_JOB_ID = "spotkit:original-job-id"
TAG_PREVIOUS_JOB_ID = "spotkit:previous-job-id"
TAG_RESUBMISSION_COUNT = "spotkit:resubmission-count"

#: Environment variable carrying a lone array child's index into its single-job resubmission.
#: ``AWS_BATCH_JOB_ARRAY_INDEX`` is reserved (``AWS_BATCH*`` names cannot be overridden) and is only
#: set by Batch inside array children, so job code should read ``SPOTKIT_ARRAY_INDEX`` first and
#: fall back to ``AWS_BATCH_JOB_ARRAY_INDEX``.
ARRAY_INDEX_ENV = "SPOTKIT_ARRAY_INDEX"

#: Environment variable of a *grouped* resubmission: k reclaimed children of one array job come back
#: as one array job of size k, and its child ``i`` runs the original index ``map[i]``. The value is
#: compact ascending ranges (``"0-2,7,9-11"``), not JSON: ECS container overrides, which Batch uses
#: to pass the environment, are limited to 8,192 characters in total (ECS API reference,
#: TaskOverride / RunTask). ``spotkit.runtime.original_array_index()`` resolves both variables.
ARRAY_INDEX_MAP_ENV = "SPOTKIT_ARRAY_INDEX_MAP"
#: Longest index map put into one resubmitted array job; larger groups are split.
MAX_INDEX_MAP_CHARS = 4096
#: AWS Batch array size limits (array_jobs.html): 2 to 10,000 children.
MIN_ARRAY_SIZE = 2
MAX_ARRAY_SIZE = 10_000

#: Environment variable names Batch reserves (and injects itself); never copied into overrides.
#: https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html
RESERVED_ENV_PREFIXES: tuple[str, ...] = ("AWS_BATCH",)
#: Tag keys reserved by AWS (``aws:`` prefix cannot be set by users).
RESERVED_TAG_PREFIXES: tuple[str, ...] = ("aws:",)


class MalformedEventError(ValueError):
    """The event is not a usable "Batch Job State Change" event (missing or mistyped fields)."""


class Decision(str, enum.Enum):
    """What the function did with one event (logged, returned and counted as a metric)."""

    RESUBMITTED = "resubmitted"
    BUDGET_EXHAUSTED = "budget_exhausted"
    SKIPPED_NOT_BATCH_EVENT = "skipped_not_batch_event"
    SKIPPED_NOT_FAILED = "skipped_not_failed"
    SKIPPED_NOT_RECLAIM = "skipped_not_reclaim"
    SKIPPED_ARRAY_PARENT = "skipped_array_parent"
    SKIPPED_MULTI_NODE = "skipped_multi_node"
    SKIPPED_UNSUPPORTED = "skipped_unsupported"
    SKIPPED_DUPLICATE = "skipped_duplicate"


@dataclass(frozen=True)
class Lineage:
    """A job's place in its resubmission chain.

    ``count`` is how many times the lineage has been resubmitted so far (0 for the original job).
    """

    original_job_id: str
    previous_job_id: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"original_job_id": self.original_job_id, "previous_job_id": self.previous_job_id,
                "count": self.count}


@dataclass(frozen=True)
class JobStateChange:
    """The fields of a "Batch Job State Change" ``detail`` that the function relies on.

    ``raw`` keeps the whole ``detail`` (including fields this class does not know) for building the
    SubmitJob request.
    """

    job_id: str
    job_name: str
    job_queue: str
    job_definition: str
    status: str
    status_reason: str
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def array_index(self) -> int | None:
        """The array index when this job is an array child (``jobId`` ``parent:N``), else None."""
        index = (self.raw.get("arrayProperties") or {}).get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            return index
        if ":" in self.job_id:
            tail = self.job_id.rsplit(":", 1)[1]
            if tail.isdigit():
                return int(tail)
        return None

    @property
    def array_parent_id(self) -> str | None:
        """``parent`` from an array child's ``jobId`` ``parent:N``, else None."""
        if self.array_index is not None and ":" in self.job_id:
            return self.job_id.rsplit(":", 1)[0]
        return None

    @property
    def is_array_parent(self) -> bool:
        """True for the parent of an array job (``arrayProperties.size`` set, no index)."""
        props = self.raw.get("arrayProperties") or {}
        return "size" in props and self.array_index is None

    @property
    def is_multi_node(self) -> bool:
        """True for a multi-node parallel job or one of its nodes (``nodeProperties`` / ``nodeDetails``)."""
        return bool(self.raw.get("nodeProperties") or self.raw.get("nodeDetails"))

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.raw.get("tags") or {})

    def lineage(self, extra_tags: Mapping[str, str] | None = None) -> Lineage:
        """Lineage read from the job's own tags (``extra_tags`` fill gaps, e.g. an array parent's).

        Raises:
            MalformedEventError: ``spotkit:resubmission-count`` is not a non-negative integer.
        """
        tags = {**(extra_tags or {}), **self.tags}
        raw_count = tags.get(TAG_RESUBMISSION_COUNT, "0")
        try:
            count = int(raw_count)
        except (TypeError, ValueError):
            raise MalformedEventError(
                f"tag {TAG_RESUBMISSION_COUNT}={raw_count!r} on job {self.job_id} is not an integer") from None
        if count < 0:
            raise MalformedEventError(f"tag {TAG_RESUBMISSION_COUNT}={count} on job {self.job_id} is negative")
        return Lineage(original_job_id=tags.get(TAG_ORIGINAL_JOB_ID) or self.job_id,
                       previous_job_id=self.job_id, count=count)


def _require_str(detail: Mapping[str, Any], key: str, *, allow_empty: bool = False) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or (not allow_empty and not value):
        got = "missing" if key not in detail else f"{type(value).__name__} {value!r}"
        raise MalformedEventError(f"detail.{key} must be a non-empty string, got {got}")
    return value


_OPTIONAL_TYPES: dict[str, type | tuple[type, ...]] = {
    "statusReason": str,
    "attempts": list,
    "container": dict,
    "parameters": dict,
    "tags": dict,
    "arrayProperties": dict,
    "retryStrategy": dict,
    "timeout": dict,
    "propagateTags": bool,
    "shareIdentifier": str,
    "schedulingPriority": int,
}


def parse_event(event: Any) -> JobStateChange | None:
    """Validate an EventBridge event and return its job, or None if it is not a Batch job event.

    Args:
        event: the EventBridge envelope (dict with ``source``, ``detail-type`` and ``detail``).

    Returns:
        The parsed job, or None when ``source``/``detail-type`` say it is some other event.

    Raises:
        MalformedEventError: ``event``/``detail`` is not an object, a required field
            (``jobId``, ``jobName``, ``jobQueue``, ``jobDefinition``, ``status``) is missing or not
            a string, or a known optional field has the wrong type.
    """
    if not isinstance(event, Mapping):
        raise MalformedEventError(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != EVENT_DETAIL_TYPE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        got = "missing" if "detail" not in event else type(detail).__name__
        raise MalformedEventError(f"detail must be a JSON object, got {got}")
    job = JobStateChange(
        job_id=_require_str(detail, "jobId"),
        job_name=_require_str(detail, "jobName"),
        job_queue=_require_str(detail, "jobQueue"),
        job_definition=_require_str(detail, "jobDefinition"),
        status=_require_str(detail, "status"),
        status_reason=detail.get("statusReason") or "",
        raw=detail,
    )
    for key, expected in _OPTIONAL_TYPES.items():
        value = detail.get(key)
        if value is not None and (not isinstance(value, expected) or
                                  (expected is int and isinstance(value, bool))):
            raise MalformedEventError(f"detail.{key} has type {type(value).__name__}, expected "
                                      f"{getattr(expected, '__name__', expected)}")
    for name in ("tags", "parameters"):
        for k, v in (detail.get(name) or {}).items():
            if not isinstance(v, str):
                raise MalformedEventError(f"detail.{name}[{k!r}] must be a string, got {type(v).__name__}")
    if any(not isinstance(a, Mapping) for a in detail.get("attempts") or []):
        raise MalformedEventError("detail.attempts must be a list of objects")
    return job


def reclaim_patterns(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The active reclaim globs: ``SPOTKIT_RECLAIM_PATTERNS`` (JSON array) or the defaults.

    Raises:
        ValueError: the env var is set but is not a JSON array of non-empty strings.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(RECLAIM_PATTERNS_ENV, "").strip()
    if not raw:
        return DEFAULT_RECLAIM_PATTERNS
    try:
        patterns = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{RECLAIM_PATTERNS_ENV} must be a JSON array of glob strings: {exc}") from None
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise ValueError(f"{RECLAIM_PATTERNS_ENV} must be a non-empty JSON array of non-empty strings")
    return tuple(patterns)


def _env_int(environ: Mapping[str, str] | None, name: str, default: int, minimum: int) -> int:
    """Integer env var ``name`` (``default`` when unset/empty).

    Raises:
        ValueError: it is not an integer >= ``minimum``.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ValueError(f"{name}={value} must be >= {minimum}")
    return value


def max_resubmissions(environ: Mapping[str, str] | None = None) -> int:
    """``SPOTKIT_MAX_RESUBMISSIONS`` (default 3): resubmissions allowed per lineage.

    Raises:
        ValueError: the env var is not a non-negative integer.
    """
    return _env_int(environ, MAX_RESUBMISSIONS_ENV, DEFAULT_MAX_RESUBMISSIONS, 0)


def fallback_job_queue(environ: Mapping[str, str] | None = None) -> str | None:
    """``SPOTKIT_FALLBACK_JOB_QUEUE``: the on-demand job queue (ARN or name), or None when unset/empty."""
    environ = os.environ if environ is None else environ
    return environ.get(FALLBACK_QUEUE_ENV, "").strip() or None


def fallback_after_losses(environ: Mapping[str, str] | None = None) -> int:
    """``SPOTKIT_FALLBACK_AFTER_LOSSES`` (default 2): the Spot loss of a lineage from which on its
    resubmission goes to the fallback queue (2: the first loss is retried on Spot, the second goes on-demand).

    Raises:
        ValueError: the env var is not an integer >= 1.
    """
    return _env_int(environ, FALLBACK_AFTER_ENV, DEFAULT_FALLBACK_AFTER_LOSSES, 1)


def submit_job_rate(environ: Mapping[str, str] | None = None) -> float:
    """``SPOTKIT_SUBMIT_JOB_RATE``: SubmitJob calls per second for one invocation; 0.0 = unpaced.

    Raises:
        ValueError: the env var is not a number >= 0.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(SUBMIT_JOB_RATE_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{SUBMIT_JOB_RATE_ENV}={raw!r} is not a number") from None
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{SUBMIT_JOB_RATE_ENV}={raw!r} must be >= 0")
    return value


def target_job_queue(job: JobStateChange, lineage: Lineage,
                     environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """``(job queue to resubmit to, True when it is the fallback queue)``.

    The failure being handled is Spot loss number ``lineage.count + 1`` of the lineage; from loss
    number ``SPOTKIT_FALLBACK_AFTER_LOSSES`` on, the resubmission goes to ``SPOTKIT_FALLBACK_JOB_QUEUE``
    when one is configured, else back to the job's own queue.

    Raises:
        ValueError: ``SPOTKIT_FALLBACK_AFTER_LOSSES`` is invalid.
    """
    fallback = fallback_job_queue(environ)
    if fallback and lineage.count + 1 >= fallback_after_losses(environ):
        return fallback, True
    return job.job_queue, False


def encode_index_map(indexes: Any) -> str:
    """Compact form of array indexes: sorted, deduplicated, runs as ``a-b``, joined by ``,``.

    ``[9, 0, 1, 2, 7, 10, 11]`` -> ``"0-2,7,9-11"``. Inverse: :func:`decode_index_map`.

    Raises:
        ValueError: an index is not a non-negative integer.
    """
    values = sorted(set(indexes))
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in values):
        raise ValueError(f"array indexes must be non-negative integers, got {values!r}")
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ",".join(parts)


def decode_index_map(text: str) -> list[int]:
    """Expand ``"0-2,7,9-11"`` to ``[0, 1, 2, 7, 9, 10, 11]`` (see :data:`ARRAY_INDEX_MAP_ENV`).

    Raises:
        MalformedEventError: the text is not ascending, non-overlapping ranges of at most
            10,000 indexes (Batch's largest array).
    """
    out: list[int] = []
    for part in text.strip().split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise MalformedEventError(f"{ARRAY_INDEX_MAP_ENV}={text!r}: {part!r} is not N or N-M")
        start, stop = int(lo), int(hi) if sep else int(lo)
        if stop < start or (out and start <= out[-1]) or len(out) + stop - start + 1 > MAX_ARRAY_SIZE:
            raise MalformedEventError(f"{ARRAY_INDEX_MAP_ENV}={text!r} is not ascending ranges of "
                                      f"at most {MAX_ARRAY_SIZE} indexes")
        out.extend(range(start, stop + 1))
    return out


def _container_env(job: JobStateChange) -> dict[str, str]:
    items = (job.raw.get("container") or {}).get("environment") or []
    return {i["name"]: str(i.get("value", "")) for i in items
            if isinstance(i, Mapping) and isinstance(i.get("name"), str)}


def original_array_index(job: JobStateChange) -> int | None:
    """The index of the *original* array child that ``job`` is running, or None.

    - a child of a grouped resubmission (``SPOTKIT_ARRAY_INDEX_MAP`` in its environment): ``map[index]``;
    - any other array child: its own index;
    - a single job that is a resubmitted lone child: its ``SPOTKIT_ARRAY_INDEX``;
    - anything else: None.

    Raises:
        MalformedEventError: the index map or ``SPOTKIT_ARRAY_INDEX`` is malformed or too short.
    """
    env = _container_env(job)
    index = job.array_index
    if index is not None:
        if ARRAY_INDEX_MAP_ENV in env:
            mapping = decode_index_map(env[ARRAY_INDEX_MAP_ENV])
            if index >= len(mapping):
                raise MalformedEventError(f"array index {index} of job {job.job_id} is outside its "
                                          f"{ARRAY_INDEX_MAP_ENV} ({len(mapping)} entries)")
            return mapping[index]
        return index
    raw = env.get(ARRAY_INDEX_ENV)
    if raw is None:
        return None
    if not raw.isdigit():
        raise MalformedEventError(f"{ARRAY_INDEX_ENV}={raw!r} on job {job.job_id} is not an integer")
    return int(raw)


def matching_pattern(reason: str | None, patterns: tuple[str, ...] | None = None) -> str | None:
    """The first reclaim glob that ``reason`` matches (case-sensitive, whole string), else None.

    Args:
        reason: a ``statusReason`` or ``container.reason`` string; None/empty never matches.
        patterns: globs to use; None means :func:`reclaim_patterns` (env override or defaults).

    Raises:
        ValueError: ``patterns`` is None and ``SPOTKIT_RECLAIM_PATTERNS`` is invalid.
    """
    if not reason:
        return None
    for pattern in patterns or reclaim_patterns():
        if fnmatch.fnmatchcase(reason, pattern):
            return pattern
    return None


def is_reclaim_reason(reason: str | None, patterns: tuple[str, ...] | None = None) -> bool:
    """True when ``reason`` (a statusReason) matches one of the reclaim globs (case-sensitive).

    The audited corpus of real reasons and their decisions is tests/corpus/status_reasons.json,
    rendered as docs/classification.md.
    """
    return matching_pattern(reason, patterns) is not None


def effective_reasons(job: JobStateChange) -> list[str]:
    """The reasons to classify, most authoritative first.

    The top-level ``statusReason`` decides when it is set. Only when it is empty (generic) do the
    last attempt's ``statusReason`` and ``container.reason`` count: with a retry strategy, the
    per-attempt reasons say why the final attempt ended.
    """
    if job.status_reason.strip():
        return [job.status_reason]
    attempts = job.raw.get("attempts") or []
    if not attempts:
        return []
    last = attempts[-1]
    reasons = [last.get("statusReason"), (last.get("container") or {}).get("reason")]
    return [r for r in reasons if isinstance(r, str) and r.strip()]


def classify(job: JobStateChange, patterns: tuple[str, ...] | None = None) -> tuple[Decision | None, str]:
    """Whether ``job`` is eligible for resubmission, ignoring the cap.

    Returns:
        ``(None, reason)`` when eligible (the host was reclaimed), else ``(skip decision, reason)``.
        The reason string is the statusReason that decided, or an explanation.

    A FAILED event with a reclaim reason means Batch will not retry the job itself: a job whose
    ``retryStrategy`` still has attempts left goes back to RUNNABLE and emits no FAILED event
    (https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html).
    """
    reasons = effective_reasons(job)
    shown = reasons[0] if reasons else ""
    if job.status != "FAILED":
        return Decision.SKIPPED_NOT_FAILED, f"status {job.status}"
    if job.is_multi_node:
        return Decision.SKIPPED_MULTI_NODE, "multi-node parallel jobs are not supported"
    if job.is_array_parent:
        return Decision.SKIPPED_ARRAY_PARENT, "array parent: its children are resubmitted individually"
    if job.raw.get("eksProperties") or job.raw.get("ecsProperties"):
        return Decision.SKIPPED_UNSUPPORTED, "EKS/ECS-properties jobs are not supported"
    for reason in reasons:
        if is_reclaim_reason(reason, patterns):
            return None, reason
    return Decision.SKIPPED_NOT_RECLAIM, shown


def _env_pairs(container: Mapping[str, Any], extra: Mapping[str, str],
               drop: tuple[str, ...] = ()) -> list[dict[str, str]]:
    env: dict[str, str] = {}
    for item in container.get("environment") or []:
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or name.startswith(RESERVED_ENV_PREFIXES) or name in drop:
            continue
        env[name] = str(item.get("value", ""))
    env.update(extra)
    return [{"name": k, "value": v} for k, v in sorted(env.items())]


def _resource_requirements(container: Mapping[str, Any]) -> list[dict[str, str]]:
    reqs = {r["type"]: str(r["value"]) for r in container.get("resourceRequirements") or []
            if isinstance(r, Mapping) and "type" in r and "value" in r}
    # Legacy job definitions report vcpus / memory (MiB) outside resourceRequirements.
    if "VCPU" not in reqs and container.get("vcpus") is not None:
        reqs["VCPU"] = str(container["vcpus"])
    if "MEMORY" not in reqs and container.get("memory") is not None:
        reqs["MEMORY"] = str(container["memory"])
    return [{"type": t, "value": v} for t, v in sorted(reqs.items())]


def lineage_tags(lineage: Lineage) -> dict[str, str]:
    """The three ``spotkit:`` tags for the *next* job in ``lineage``."""
    return {
        TAG_ORIGINAL_JOB_ID: lineage.original_job_id,
        TAG_PREVIOUS_JOB_ID: lineage.previous_job_id,
        TAG_RESUBMISSION_COUNT: str(lineage.count + 1),
    }


def build_submit_request(job: JobStateChange, lineage: Lineage,
                         inherited_tags: Mapping[str, str] | None = None,
                         job_queue: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``batch.submit_job`` that rerun ``job`` as it was submitted.

    Carried over: jobName, jobQueue, jobDefinition (ARN with revision, so a newer revision does not
    change what runs), containerOverrides (command, environment without ``AWS_BATCH*`` names,
    resourceRequirements with legacy ``vcpus``/``memory`` converted to VCPU/MEMORY), parameters,
    retryStrategy (attempts, evaluateOnExit), timeout, tags (without ``aws:`` keys, plus the lineage
    tags), propagateTags, shareIdentifier and schedulingPriority (as schedulingPriorityOverride).
    A lone array child becomes a single job with ``SPOTKIT_ARRAY_INDEX=<original index>`` in its
    environment (:func:`original_array_index`; any ``SPOTKIT_ARRAY_INDEX_MAP`` is dropped).
    ``job_queue`` (e.g. the on-demand fallback, :func:`target_job_queue`) replaces the job's queue.

    Not carried over:

    - ``dependsOn``: the failed job had already started, so its dependencies were satisfied; a
      dependency id may also be long gone (jobs are kept ~7 days), which would make SubmitJob fail.
    - ``containerOverrides.instanceType``: SubmitJob accepts it only for multi-node parallel jobs,
      which this function does not resubmit (API_ContainerOverrides).
    - ``arrayProperties``: see the array-child note above; :func:`build_array_request` regroups
      children reclaimed together.
    - ``secrets``, image, volumes and the rest of the container: they come from the job definition
      revision, which is reused as is (secrets cannot be overridden at submit time anyway).

    ``inherited_tags`` (e.g. the array parent's tags, which Batch does not copy onto children) are
    used under the job's own tags.

    SubmitJob reference: https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html
    """
    raw = job.raw
    container = raw.get("container") or {}
    extra_env: dict[str, str] = {}
    original_index = original_array_index(job)
    if original_index is not None:
        extra_env[ARRAY_INDEX_ENV] = str(original_index)

    request: dict[str, Any] = {
        "jobName": job.job_name,
        "jobQueue": job_queue or job.job_queue,
        "jobDefinition": job.job_definition,
    }
    overrides: dict[str, Any] = {}
    if container.get("command"):
        overrides["command"] = [str(c) for c in container["command"]]
    env = _env_pairs(container, extra_env, drop=(ARRAY_INDEX_MAP_ENV,))
    if env:
        overrides["environment"] = env
    reqs = _resource_requirements(container)
    if reqs:
        overrides["resourceRequirements"] = reqs
    if overrides:
        request["containerOverrides"] = overrides

    if raw.get("parameters"):
        request["parameters"] = dict(raw["parameters"])
    retry = raw.get("retryStrategy") or {}
    if retry.get("attempts") or retry.get("evaluateOnExit"):
        request["retryStrategy"] = {k: retry[k] for k in ("attempts", "evaluateOnExit") if retry.get(k)}
    if (raw.get("timeout") or {}).get("attemptDurationSeconds"):
        request["timeout"] = {"attemptDurationSeconds": int(raw["timeout"]["attemptDurationSeconds"])}
    if raw.get("propagateTags") is not None:
        request["propagateTags"] = bool(raw["propagateTags"])
    if raw.get("shareIdentifier"):
        request["shareIdentifier"] = raw["shareIdentifier"]
    if raw.get("schedulingPriority") is not None:
        request["schedulingPriorityOverride"] = int(raw["schedulingPriority"])

    tags = {**(inherited_tags or {}), **job.tags}
    tags = {k: v for k, v in tags.items() if not k.startswith(RESERVED_TAG_PREFIXES)}
    tags.update(lineage_tags(lineage))
    request["tags"] = dict(sorted(tags.items()))
    return request


def array_group_key(request: Mapping[str, Any]) -> str:
    """What must be equal for children to share one resubmitted array job: the single-job request
    without its ``SPOTKIT_ARRAY_INDEX`` and lineage tags (canonical JSON)."""
    shape = json.loads(json.dumps(request))
    overrides = shape.get("containerOverrides") or {}
    overrides["environment"] = [e for e in overrides.get("environment") or [] if e["name"] != ARRAY_INDEX_ENV]
    shape["tags"] = {k: v for k, v in (shape.get("tags") or {}).items()
                     if k not in (TAG_PREVIOUS_JOB_ID, TAG_ORIGINAL_JOB_ID, TAG_RESUBMISSION_COUNT)}
    return json.dumps(shape, sort_keys=True)


def split_for_arrays(indexes: list[int]) -> list[list[int]]:
    """Split sorted original indexes into chunks that each fit one array job: at most
    :data:`MAX_ARRAY_SIZE` children and :data:`MAX_INDEX_MAP_CHARS` characters of index map.

    The map length is kept up to date run by run (no re-encoding per index): linear in the number
    of indexes, which matters for a batch of up to 10,000 reclaimed children.
    """
    chunks: list[list[int]] = []
    current: list[int] = []
    length = 0  # len(encode_index_map(current))
    run_start = 0

    def run_text(first: int, last: int) -> int:
        return len(str(first)) if first == last else len(str(first)) + 1 + len(str(last))

    for index in sorted(set(indexes)):
        if current and index == current[-1] + 1:
            grown = length - run_text(run_start, current[-1]) + run_text(run_start, index)
            start_of_run = run_start
        else:
            grown = length + (1 if current else 0) + len(str(index))
            start_of_run = index
        if current and (len(current) + 1 > MAX_ARRAY_SIZE or grown > MAX_INDEX_MAP_CHARS):
            chunks.append(current)
            current, grown, start_of_run = [], len(str(index)), index
        current.append(index)
        length, run_start = grown, start_of_run
    if current:
        chunks.append(current)
    return chunks


def build_array_request(single_request: Mapping[str, Any], indexes: list[int], *,
                        parent_job_id: str, lineage: Lineage) -> dict[str, Any]:
    """One array job of ``len(indexes)`` children from the single-job request of one of them.

    Child ``i`` of the new job gets ``AWS_BATCH_JOB_ARRAY_INDEX=i`` from Batch and runs original
    index ``sorted(indexes)[i]``, read from ``SPOTKIT_ARRAY_INDEX_MAP``. Lineage tags: the original
    job id of the lineage, ``previous-job-id`` = the failed array parent, count + 1.

    Raises:
        ValueError: fewer than 2 or more than 10,000 indexes (Batch's array size limits), or a map
            longer than :data:`MAX_INDEX_MAP_CHARS` (use :func:`split_for_arrays`).
    """
    if not MIN_ARRAY_SIZE <= len(set(indexes)) <= MAX_ARRAY_SIZE:
        raise ValueError(f"an array job has {MIN_ARRAY_SIZE}..{MAX_ARRAY_SIZE} children, got {len(set(indexes))}")
    mapping = encode_index_map(indexes)
    if len(mapping) > MAX_INDEX_MAP_CHARS:
        raise ValueError(f"index map of {len(mapping)} characters exceeds {MAX_INDEX_MAP_CHARS}")
    request = json.loads(json.dumps(single_request))
    overrides = request.setdefault("containerOverrides", {})
    env = [e for e in overrides.get("environment") or [] if e["name"] not in (ARRAY_INDEX_ENV, ARRAY_INDEX_MAP_ENV)]
    env.append({"name": ARRAY_INDEX_MAP_ENV, "value": mapping})
    overrides["environment"] = sorted(env, key=lambda e: e["name"])
    request["arrayProperties"] = {"size": len(set(indexes))}
    tags = dict(request.get("tags") or {})
    tags.update(lineage_tags(Lineage(original_job_id=lineage.original_job_id, previous_job_id=parent_job_id,
                                     count=lineage.count)))
    request["tags"] = dict(sorted(tags.items()))
    return request
