"""The resubmit function's settings, read from ``SPOTKIT_*`` environment variables.

Every reader takes an optional ``environ`` mapping (default ``os.environ``) and raises ValueError
with the variable's name on a bad value, so a misconfiguration fails loudly instead of resubmitting
with a guess. The Terraform module (modules/spot-resubmit) sets them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

#: Case-sensitive :func:`fnmatch.fnmatchcase` globs matched against a failed job's ``statusReason``.
#: A match means the *host* went away under the job (Spot capacity reclaimed), not that the job's
#: own code failed. ``Host EC2 (instance i-…) terminated.`` is what AWS Batch reports when the EC2
#: instance running the attempt is terminated; ``Your Spot Task was interrupted.`` is the Fargate
#: Spot equivalent. Each default is justified against real reasons in docs/classification.md
#: (generated from tests/corpus/status_reasons.json, checked by tests/test_classification_corpus.py).
DEFAULT_RECLAIM_PATTERNS: tuple[str, ...] = (
    "Host EC2 (instance *) terminated*",
    "Your Spot Task was interrupted*",
)
RECLAIM_PATTERNS_ENV = "SPOTKIT_RECLAIM_PATTERNS"
#: Resubmissions allowed per lineage.
MAX_RESUBMISSIONS_ENV = "SPOTKIT_MAX_RESUBMISSIONS"
DEFAULT_MAX_RESUBMISSIONS = 3
#: On-demand fallback: the job queue (ARN or name) that takes a lineage's resubmission once it has
#: lost ``SPOTKIT_FALLBACK_AFTER_LOSSES`` attempts to Spot reclaims. Empty/unset: no fallback.
FALLBACK_QUEUE_ENV = "SPOTKIT_FALLBACK_JOB_QUEUE"
FALLBACK_AFTER_ENV = "SPOTKIT_FALLBACK_AFTER_LOSSES"
DEFAULT_FALLBACK_AFTER_LOSSES = 2
#: SubmitJob calls per second one invocation may make (0 or unset: unpaced, backoff only). The
#: module sets it to its SubmitJob budget divided by the event source mapping's maximum concurrency,
#: so concurrent invocations together stay under the account quota (50/s) instead of colliding.
SUBMIT_JOB_RATE_ENV = "SPOTKIT_SUBMIT_JOB_RATE"


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def reclaim_patterns(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The active reclaim globs: ``SPOTKIT_RECLAIM_PATTERNS`` (JSON array) or the defaults.

    Raises:
        ValueError: the env var is set but is not a non-empty JSON array of non-empty strings.
    """
    raw = _environ(environ).get(RECLAIM_PATTERNS_ENV, "").strip()
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
    raw = _environ(environ).get(name, "").strip()
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
        ValueError: not a non-negative integer.
    """
    return _env_int(environ, MAX_RESUBMISSIONS_ENV, DEFAULT_MAX_RESUBMISSIONS, 0)


def fallback_job_queue(environ: Mapping[str, str] | None = None) -> str | None:
    """``SPOTKIT_FALLBACK_JOB_QUEUE``: the on-demand job queue (ARN or name), or None when unset/empty."""
    return _environ(environ).get(FALLBACK_QUEUE_ENV, "").strip() or None


def fallback_after_losses(environ: Mapping[str, str] | None = None) -> int:
    """``SPOTKIT_FALLBACK_AFTER_LOSSES`` (default 2): from this Spot loss of a lineage on, its
    resubmission goes to the fallback queue (2: the first loss is retried on Spot, the second goes
    on-demand).

    Raises:
        ValueError: not an integer >= 1.
    """
    return _env_int(environ, FALLBACK_AFTER_ENV, DEFAULT_FALLBACK_AFTER_LOSSES, 1)


def submit_job_rate(environ: Mapping[str, str] | None = None) -> float:
    """``SPOTKIT_SUBMIT_JOB_RATE``: SubmitJob calls per second for one invocation; 0.0 = unpaced.

    Raises:
        ValueError: not a number >= 0.
    """
    raw = _environ(environ).get(SUBMIT_JOB_RATE_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{SUBMIT_JOB_RATE_ENV}={raw!r} is not a number") from None
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{SUBMIT_JOB_RATE_ENV}={raw!r} must be >= 0")
    return value
