"""Lineage: where a job stands in its chain of resubmissions, kept in ONE tag.

A resubmitted job carries ``spotkit:lineage`` = ``count=<n> original=<job id> previous=<job id>``
(and ``revision-from=<n>`` when it had to move to a newer job-definition revision):

* ``count`` -- how many resubmissions the lineage has had, this job included (1 on the first);
* ``original`` -- the job id the lineage started from (an array parent's id for regrouped children);
* ``previous`` -- the failed job this one replaces (for regrouped children: the failed array parent).

Why one tag, not three: AWS allows 50 tags per resource, keys up to 128 and values up to 256
characters (SubmitJob ``tags``, https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html;
"Tagging your AWS Batch resources", https://docs.aws.amazon.com/batch/latest/userguide/using-tags.html).
With one tag a job with up to 49 user tags comes back with all of them AND its lineage. The value
uses only characters every tagging API accepts (letters, digits, spaces, ``=``, ``:``, ``-``).

At 50 user tags there is no room: the job comes back with all 50 and its lineage travels in the
container environment instead, ``SPOTKIT_LINEAGE`` (same value), which DescribeJobs returns with
the job for as long as Batch keeps it; the function logs ``lineage-untagged``. The variable is
never left stale: it is removed whenever the tag fits again. Jobs resubmitted by spotkit before
this tag existed carry the three legacy tags ``spotkit:original-job-id``/``previous-job-id``/
``resubmission-count``; they are read, and replaced by the one tag on the next resubmission.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TAG_LINEAGE = "spotkit:lineage"
#: Where the lineage goes when 50 user tags leave no room for the tag (container environment).
LINEAGE_ENV = "SPOTKIT_LINEAGE"
#: Legacy lineage tags (read, never written).
LEGACY_TAG_ORIGINAL_JOB_ID = "spotkit:original-job-id"
LEGACY_TAG_PREVIOUS_JOB_ID = "spotkit:previous-job-id"
LEGACY_TAG_RESUBMISSION_COUNT = "spotkit:resubmission-count"
LINEAGE_TAG_KEYS = (TAG_LINEAGE, LEGACY_TAG_ORIGINAL_JOB_ID, LEGACY_TAG_PREVIOUS_JOB_ID,
                    LEGACY_TAG_RESUBMISSION_COUNT)

#: AWS tag limits (using-tags.html; SubmitJob ``tags``).
MAX_TAGS = 50
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256


class LineageError(ValueError):
    """A lineage tag is present but unreadable (not ``count=<n> original=<id> previous=<id>``)."""


@dataclass(frozen=True)
class Lineage:
    """A job's place in its resubmission chain.

    Attributes:
        original_job_id: the job the chain started from.
        previous_job_id: the job this one replaced (its own id for an original job).
        count: resubmissions so far, this job included (0 for an original job).
        revision_from: the job-definition revision the chain moved away from, when it had to.
    """

    original_job_id: str
    previous_job_id: str
    count: int
    revision_from: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"original_job_id": self.original_job_id, "previous_job_id": self.previous_job_id,
                               "count": self.count}
        if self.revision_from is not None:
            out["revision_from"] = self.revision_from
        return out

    def successor(self, failed_job_id: str, revision_from: int | None = None) -> Lineage:
        """The lineage of the job that replaces ``failed_job_id`` (a job of this lineage)."""
        return Lineage(self.original_job_id, failed_job_id, self.count + 1,
                       revision_from if revision_from is not None else self.revision_from)


def encode(lineage: Lineage) -> str:
    """The ``spotkit:lineage`` tag value of a job with ``lineage``."""
    text = f"count={lineage.count} original={lineage.original_job_id} previous={lineage.previous_job_id}"
    if lineage.revision_from is not None:
        text += f" revision-from={lineage.revision_from}"
    return text


def decode(value: str) -> Lineage:
    """Parse a ``spotkit:lineage`` tag value.

    Raises:
        LineageError: missing ``count``/``original``/``previous``, or a count that is not a
            non-negative integer.
    """
    fields = dict(part.partition("=")[::2] for part in value.split())
    try:
        count = int(fields["count"])
        original, previous = fields["original"], fields["previous"]
        revision = int(fields["revision-from"]) if fields.get("revision-from") else None
    except (KeyError, ValueError):
        raise LineageError(f"tag {TAG_LINEAGE}={value!r} is not 'count=<n> original=<id> previous=<id>'") from None
    if count < 0 or not original or not previous:
        raise LineageError(f"tag {TAG_LINEAGE}={value!r} has a negative count or an empty job id")
    return Lineage(original, previous, count, revision)


def read(tags: Mapping[str, str], job_id: str) -> Lineage | None:
    """The lineage recorded in ``tags`` (of job ``job_id``), or None when there is none.

    Reads ``spotkit:lineage``, else the three legacy tags.

    Raises:
        LineageError: a lineage tag is present but malformed.
    """
    if TAG_LINEAGE in tags:
        return decode(tags[TAG_LINEAGE])
    if LEGACY_TAG_RESUBMISSION_COUNT in tags or LEGACY_TAG_ORIGINAL_JOB_ID in tags:
        raw = tags.get(LEGACY_TAG_RESUBMISSION_COUNT, "0")
        if not raw.isdigit():
            raise LineageError(f"tag {LEGACY_TAG_RESUBMISSION_COUNT}={raw!r} on job {job_id} is not an integer")
        return Lineage(tags.get(LEGACY_TAG_ORIGINAL_JOB_ID) or job_id,
                       tags.get(LEGACY_TAG_PREVIOUS_JOB_ID) or job_id, int(raw))
    return None


def read_job(tags: Mapping[str, str], environment: Mapping[str, str] | None, job_id: str) -> Lineage | None:
    """The lineage of a job: its tags (:func:`read`), else its ``SPOTKIT_LINEAGE`` environment variable.

    Raises:
        LineageError: a lineage tag or the variable is present but malformed.
    """
    found = read(tags, job_id)
    if found is None and (environment or {}).get(LINEAGE_ENV):
        found = decode(environment[LINEAGE_ENV])
    return found


def of_job(tags: Mapping[str, str], job_id: str, environment: Mapping[str, str] | None = None) -> Lineage:
    """The lineage of job ``job_id``: as recorded (:func:`read_job`), or a new one (count 0).

    Raises:
        LineageError: a lineage tag or variable is present but malformed.
    """
    return read_job(tags, environment, job_id) or Lineage(job_id, job_id, 0)


def previous_job_id(tags: Mapping[str, str], environment: Mapping[str, str] | None = None) -> str | None:
    """The failed job a job replaced, from its tags or environment (None for a job spotkit did not submit)."""
    try:
        found = read_job(tags, environment, "")
    except LineageError:
        return None
    return found.previous_job_id if found and found.previous_job_id else None



def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """``tags`` without AWS-reserved (``aws:``) keys and without spotkit's lineage tags."""
    return {k: v for k, v in tags.items() if not k.startswith("aws:") and k not in LINEAGE_TAG_KEYS}


def with_lineage(tags: Mapping[str, str], lineage: Lineage) -> tuple[dict[str, str], bool]:
    """The tags of a resubmitted job: every user tag of ``tags`` plus the lineage tag when it fits.

    Returns:
        ``(tags, lineage_tagged)``; ``lineage_tagged`` is False when ``tags`` already holds
        :data:`MAX_TAGS` user tags (then they all stay, and the lineage belongs in
        :data:`LINEAGE_ENV`, see :func:`spotkit.core.submit.build_submit_request`).
    """
    out = user_tags(tags)
    if len(out) + 1 > MAX_TAGS:
        return dict(sorted(out.items())), False
    out[TAG_LINEAGE] = encode(lineage)
    return dict(sorted(out.items())), True
