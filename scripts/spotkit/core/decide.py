"""The decision: resubmit a failed job, alert that its budget is spent, or leave it alone.

Inputs are what the earlier stages established: the failed job (the event's view is enough to
classify it) and its lineage (read from DescribeJobs tags, see :mod:`spotkit.core.lineage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from spotkit.core import config
from spotkit.core.classify import Decision, classify
from spotkit.core.job import JobDetail
from spotkit.core.lineage import Lineage


@dataclass(frozen=True)
class Verdict:
    """What to do with one failed job.

    Attributes:
        decision: ``RESUBMITTED`` (to do), ``BUDGET_EXHAUSTED`` (alert) or a ``SKIPPED_*``.
        reason: the statusReason that decided, or an explanation.
        lineage: the failed job's lineage (None for skips).
        job_queue: where the resubmission goes (the job's queue, or the on-demand fallback).
        fallback: True when ``job_queue`` is the fallback queue.
    """

    decision: Decision
    reason: str
    lineage: Lineage | None = None
    job_queue: str | None = None
    fallback: bool = False

    @property
    def resubmit(self) -> bool:
        return self.decision is Decision.RESUBMITTED


def target_job_queue(job: JobDetail, lineage: Lineage, environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """``(job queue to resubmit to, True when it is the fallback queue)``.

    The failure being handled is Spot loss number ``lineage.count + 1`` of the lineage; from loss
    number ``SPOTKIT_FALLBACK_AFTER_LOSSES`` on, the resubmission goes to ``SPOTKIT_FALLBACK_JOB_QUEUE``
    when one is configured, else back to the job's own queue.

    Raises:
        ValueError: ``SPOTKIT_FALLBACK_AFTER_LOSSES`` is invalid.
    """
    fallback = config.fallback_job_queue(environ)
    if fallback and lineage.count + 1 >= config.fallback_after_losses(environ):
        return fallback, True
    return job.job_queue, False


def decide(job: JobDetail, lineage: Lineage, environ: Mapping[str, str] | None = None) -> Verdict:
    """Classify ``job``, then apply the lineage's budget and pick the target queue.

    Raises:
        ValueError: an invalid ``SPOTKIT_*`` setting (see :mod:`spotkit.core.config`).
    """
    skip, reason = classify(job, config.reclaim_patterns(environ))
    if skip is not None:
        return Verdict(skip, reason)
    if lineage.count >= config.max_resubmissions(environ):
        return Verdict(Decision.BUDGET_EXHAUSTED, reason, lineage)
    queue, fallback = target_job_queue(job, lineage, environ)
    return Verdict(Decision.RESUBMITTED, reason, lineage, queue, fallback)
