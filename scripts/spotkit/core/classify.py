"""Does a failed job's statusReason say its host was reclaimed? The audited answer.

The patterns are :data:`spotkit.core.config.DEFAULT_RECLAIM_PATTERNS` (overridable); the corpus
of real reasons and their decisions is tests/corpus/status_reasons.json, rendered as
docs/classification.md.
"""

from __future__ import annotations

import enum
import fnmatch

from spotkit.core.config import DEFAULT_RECLAIM_PATTERNS, RECLAIM_PATTERNS_ENV, reclaim_patterns
from spotkit.core.job import JobDetail

__all__ = ["DEFAULT_RECLAIM_PATTERNS", "FAILURE_CLASSES", "RECLAIM_PATTERNS_ENV", "Decision", "classify",
           "effective_reasons", "failure_class", "is_reclaim_reason", "matching_pattern", "reclaim_patterns"]


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
    NOT_RESUBMITTABLE = "not_resubmittable"


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
    """True when ``reason`` (a statusReason) matches one of the reclaim globs (case-sensitive)."""
    return matching_pattern(reason, patterns) is not None


def effective_reasons(job: JobDetail) -> list[str]:
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


def classify(job: JobDetail, patterns: tuple[str, ...] | None = None) -> tuple[Decision | None, str]:
    """Whether ``job`` (a FAILED event's view is enough) is eligible for resubmission, ignoring the budget.

    Returns:
        ``(None, reason)`` when eligible (the host was reclaimed), else ``(skip decision, reason)``.
        The reason string is the statusReason that decided, or an explanation.

    A FAILED event with a reclaim reason means Batch will not retry the job itself: a job whose
    ``retryStrategy`` still has attempts left goes back to RUNNABLE and emits no FAILED event
    (https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html).

    Raises:
        ValueError: ``patterns`` is None and ``SPOTKIT_RECLAIM_PATTERNS`` is invalid.
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


#: ``(class, statusReason globs)`` in the order they are tried, for :func:`failure_class`. The
#: reasons are those of tests/corpus/status_reasons.json (real reasons with their sources).
FAILURE_CLASSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("runnable_time_limit", ("Canceled by JobStateTimeLimit action*",)),
    ("timeout", ("Job attempt duration exceeded timeout*",)),
    ("out_of_memory", ("OutOfMemoryError*",)),
    ("image_pull", ("CannotPullContainerError*",)),
    ("container_start", ("CannotStartContainerError*", "CannotInspectContainerError*", "DockerTimeoutError*",
                         "Task failed to start*", "ResourceInitializationError*",
                         "Timeout waiting for network interface provisioning*")),
    ("exit_code", ("Essential container in task exited*", "Task failed due to container exit code*")),
    ("dependency", ("Dependent Job failed*",)),
    ("array_child", ("Array Child Job failed*",)),
    ("user", ("Terminated by user*", "Task stopped by user*", "Terminating job*", "Job killed by*",
              "Container instance deregistration forced by user*")),
    ("host", ("Host EC2 *", "ECS is performing maintenance*", "Scaling activity initiated by*")),
)


def failure_class(job: JobDetail, patterns: tuple[str, ...] | None = None) -> str:
    """A short, stable name for WHY a job failed, for people and routing rules: ``reclaim`` (the
    host was reclaimed: what spotkit resubmits), one of :data:`FAILURE_CLASSES` (``exit_code``,
    ``timeout``, ``image_pull``, ``out_of_memory``, ``container_start``, ``dependency``,
    ``array_child``, ``user``, ``runnable_time_limit``, ``host``), else ``other``.

    The reasons tried are :func:`effective_reasons` (the job's statusReason, else its last
    attempt's statusReason / container reason), then the last attempt's container reason.

    Raises:
        ValueError: ``patterns`` is None and ``SPOTKIT_RECLAIM_PATTERNS`` is invalid.
    """
    reasons = effective_reasons(job)
    attempts = job.raw.get("attempts") or []
    if attempts:
        container_reason = (attempts[-1].get("container") or {}).get("reason")
        if isinstance(container_reason, str) and container_reason.strip():
            reasons.append(container_reason)
    if any(is_reclaim_reason(r, patterns) for r in reasons):
        return "reclaim"
    # The most specific class any reason names wins: Batch says "Task failed to start" while the
    # container reason says why (CannotPullContainerError, nextflow-io/nextflow#5099).
    for name, globs in FAILURE_CLASSES:
        if any(fnmatch.fnmatchcase(reason, g) for reason in reasons for g in globs):
            return name
    return "other"
