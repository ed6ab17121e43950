"""SubmitJob requests that rerun a failed job as it was submitted, within SubmitJob's limits.

Source of every field: the job's DescribeJobs ``JobDetail`` (:class:`spotkit.core.job.JobDetail`),
never the event's placeholder tags. SubmitJob reference:
https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from spotkit.core import lineage as lineage_mod
from spotkit.core.indexmap import (
    ARRAY_INDEX_ENV,
    ARRAY_INDEX_MAP_ENV,
    MAX_ARRAY_SIZE,
    MAX_INDEX_MAP_CHARS,
    MIN_ARRAY_SIZE,
    decode_index_map,
    encode_index_map,
)
from spotkit.core.job import RESERVED_ENV_PREFIX, JobDetail, MalformedEventError
from spotkit.core.lineage import Lineage

#: SubmitJob ``jobName``: up to 128 characters, first alphanumeric, then letters, digits, ``-``, ``_``.
JOB_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
#: SubmitJob ``dependsOn``: at most 20 dependencies.
MAX_DEPENDS_ON = 20
#: SubmitJob / JobTimeout ``attemptDurationSeconds``: at least 60 seconds (API_JobTimeout.html).
MIN_ATTEMPT_DURATION_SECONDS = 60
#: SubmitJob ``schedulingPriorityOverride``: 0..9999.
MAX_SCHEDULING_PRIORITY = 9999
#: RetryStrategy: attempts 1..10, at most 5 evaluateOnExit entries (API_RetryStrategy.html).
MAX_RETRY_ATTEMPTS = 10
MAX_EVALUATE_ON_EXIT = 5


class SubmitRequestError(ValueError):
    """A SubmitJob request breaks a documented SubmitJob limit; ``problems`` lists every one."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def original_array_index(job: JobDetail) -> int | None:
    """The index of the *original* array child that ``job`` is running, or None.

    - a child of a regrouped resubmission (``SPOTKIT_ARRAY_INDEX_MAP`` in its environment): ``map[index]``;
    - any other array child: its own index;
    - a single job that is a resubmitted lone child: its ``SPOTKIT_ARRAY_INDEX``;
    - anything else: None.

    Raises:
        MalformedEventError: the index map or ``SPOTKIT_ARRAY_INDEX`` is malformed or too short.
    """
    env = job.environment
    index = job.array_index
    if index is not None:
        if ARRAY_INDEX_MAP_ENV in env:
            try:
                mapping = decode_index_map(env[ARRAY_INDEX_MAP_ENV])
            except ValueError as exc:
                raise MalformedEventError(f"job {job.job_id}: {ARRAY_INDEX_MAP_ENV}: {exc}") from None
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


def _env_pairs(container: Mapping[str, Any], extra: Mapping[str, str],
               drop: tuple[str, ...] = ()) -> list[dict[str, str]]:
    env: dict[str, str] = {}
    for item in container.get("environment") or []:
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or name.startswith(RESERVED_ENV_PREFIX) or name in drop:
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


def build_submit_request(job: JobDetail, lineage: Lineage, inherited_tags: Mapping[str, str] | None = None, *,
                         job_queue: str | None = None,
                         job_definition: str | None = None) -> tuple[dict[str, Any], bool]:
    """Keyword arguments for ``batch.submit_job`` that rerun ``job`` as it was submitted.

    Args:
        job: the failed job as DescribeJobs describes it (an event's view works, without tags and
            with whatever else the event omits: the caller logs that it had to).
        lineage: the lineage of the NEW job (:meth:`Lineage.successor` of the failed job's).
        inherited_tags: tags used under the job's own (an array parent's: Batch does not copy
            tags onto children).
        job_queue: the queue to submit to (e.g. the on-demand fallback); default the job's own.
        job_definition: the job definition to use instead of the job's revision (the latest ACTIVE
            revision when the job's own was deregistered); default the job's ARN with revision.

    Returns:
        ``(request, lineage_tagged)``: ``lineage_tagged`` is False when the job already has 50
        user tags; the lineage is then in the environment as ``SPOTKIT_LINEAGE``
        (:mod:`spotkit.core.lineage`).

    Carried over: jobName, jobQueue, jobDefinition, containerOverrides (command, environment
    without ``AWS_BATCH*`` names, resourceRequirements with legacy ``vcpus``/``memory`` converted),
    parameters, retryStrategy (attempts, evaluateOnExit), timeout, user tags (no ``aws:`` keys),
    propagateTags, shareIdentifier, schedulingPriority (as schedulingPriorityOverride). A lone array
    child becomes a single job with ``SPOTKIT_ARRAY_INDEX=<original index>``.

    Not carried over: ``dependsOn`` (the failed job had started, so its dependencies were met, and
    a dependency may be long gone), ``containerOverrides.instanceType`` (multi-node only),
    ``arrayProperties`` (see :func:`build_array_request`), and what the job definition revision
    provides (image, secrets, volumes...).

    Raises:
        MalformedEventError: a malformed array index variable on the job.
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
        "jobDefinition": job_definition or job.job_definition,
    }
    overrides: dict[str, Any] = {}
    if container.get("command"):
        overrides["command"] = [str(c) for c in container["command"]]
    tags, tagged = lineage_mod.with_lineage({**(inherited_tags or {}), **job.tags}, lineage)
    if not tagged:  # 50 user tags: the lineage travels in the environment instead
        extra_env[lineage_mod.LINEAGE_ENV] = lineage_mod.encode(lineage)
    env = _env_pairs(container, extra_env, drop=(ARRAY_INDEX_MAP_ENV, lineage_mod.LINEAGE_ENV))
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
    if job.timeout_seconds:
        request["timeout"] = {"attemptDurationSeconds": job.timeout_seconds}
    if raw.get("propagateTags") is not None:
        request["propagateTags"] = bool(raw["propagateTags"])
    if raw.get("shareIdentifier"):
        request["shareIdentifier"] = raw["shareIdentifier"]
    if raw.get("schedulingPriority") is not None:
        request["schedulingPriorityOverride"] = int(raw["schedulingPriority"])
    request["tags"] = tags
    return request, tagged


def array_group_key(request: Mapping[str, Any]) -> str:
    """What must be equal for children to share one resubmitted array job: the single-job request
    without its ``SPOTKIT_ARRAY_INDEX`` and lineage tag (canonical JSON)."""
    shape = json.loads(json.dumps(request))
    overrides = shape.get("containerOverrides") or {}
    overrides["environment"] = [e for e in overrides.get("environment") or []
                                 if e["name"] not in (ARRAY_INDEX_ENV, lineage_mod.LINEAGE_ENV)]
    shape["tags"] = lineage_mod.user_tags(shape.get("tags") or {})
    return json.dumps(shape, sort_keys=True)


def build_array_request(single_request: Mapping[str, Any], indexes: list[int], *,
                        lineage: Lineage) -> dict[str, Any]:
    """One array job of ``len(indexes)`` children from the single-job request of one of them.

    Child ``i`` of the new job gets ``AWS_BATCH_JOB_ARRAY_INDEX=i`` from Batch and runs original
    index ``sorted(indexes)[i]``, read from ``SPOTKIT_ARRAY_INDEX_MAP``. ``lineage`` is the new
    array job's (previous = the failed array parent).

    Raises:
        ValueError: fewer than 2 or more than 10,000 indexes (Batch's array size limits), or a map
            longer than :data:`MAX_INDEX_MAP_CHARS` (use :func:`spotkit.core.indexmap.split_for_arrays`).
    """
    if not MIN_ARRAY_SIZE <= len(set(indexes)) <= MAX_ARRAY_SIZE:
        raise ValueError(f"an array job has {MIN_ARRAY_SIZE}..{MAX_ARRAY_SIZE} children, got {len(set(indexes))}")
    mapping = encode_index_map(indexes)
    if len(mapping) > MAX_INDEX_MAP_CHARS:
        raise ValueError(f"index map of {len(mapping)} characters exceeds {MAX_INDEX_MAP_CHARS}")
    request = json.loads(json.dumps(single_request))
    overrides = request.setdefault("containerOverrides", {})
    drop = (ARRAY_INDEX_ENV, ARRAY_INDEX_MAP_ENV, lineage_mod.LINEAGE_ENV)
    env = [e for e in overrides.get("environment") or [] if e["name"] not in drop]
    env.append({"name": ARRAY_INDEX_MAP_ENV, "value": mapping})
    request["tags"], tagged = lineage_mod.with_lineage(request.get("tags") or {}, lineage)
    if not tagged:
        env.append({"name": lineage_mod.LINEAGE_ENV, "value": lineage_mod.encode(lineage)})
    overrides["environment"] = sorted(env, key=lambda e: e["name"])
    request["arrayProperties"] = {"size": len(set(indexes))}
    return request


def validate_submit_request(request: Mapping[str, Any]) -> None:
    """Check ``request`` against SubmitJob's documented limits before sending it.

    Checked (API_SubmitJob.html unless noted): jobName pattern and length; arrayProperties.size
    2..10,000; dependsOn <= 20; at most 50 tags, keys 1..128 and values <= 256 characters, no
    ``aws:`` keys (using-tags.html); timeout >= 60 s (API_JobTimeout.html); retryStrategy attempts
    1..10 and <= 5 evaluateOnExit (API_RetryStrategy.html); schedulingPriorityOverride 0..9999.

    Raises:
        SubmitRequestError: one or more limits are broken (all are listed).
    """
    problems: list[str] = []
    name = request.get("jobName")
    if not isinstance(name, str) or not JOB_NAME_PATTERN.fullmatch(name):
        problems.append(f"jobName {name!r} must be 1-128 letters, digits, '-' or '_', starting alphanumeric")
    size = (request.get("arrayProperties") or {}).get("size")
    if size is not None and not MIN_ARRAY_SIZE <= size <= MAX_ARRAY_SIZE:
        problems.append(f"arrayProperties.size {size} must be {MIN_ARRAY_SIZE}..{MAX_ARRAY_SIZE}")
    if len(request.get("dependsOn") or []) > MAX_DEPENDS_ON:
        problems.append(f"dependsOn has {len(request['dependsOn'])} entries, at most {MAX_DEPENDS_ON}")
    tags = request.get("tags") or {}
    if len(tags) > lineage_mod.MAX_TAGS:
        problems.append(f"{len(tags)} tags, at most {lineage_mod.MAX_TAGS}")
    for key, value in tags.items():
        if not 1 <= len(key) <= lineage_mod.MAX_TAG_KEY_CHARS:
            problems.append(f"tag key {key[:40]!r}... must be 1-{lineage_mod.MAX_TAG_KEY_CHARS} characters")
        if len(value) > lineage_mod.MAX_TAG_VALUE_CHARS:
            problems.append(f"tag {key!r} value has {len(value)} characters, at most {lineage_mod.MAX_TAG_VALUE_CHARS}")
        if key.startswith("aws:"):
            problems.append(f"tag key {key!r} uses the reserved 'aws:' prefix")
    timeout = (request.get("timeout") or {}).get("attemptDurationSeconds")
    if timeout is not None and timeout < MIN_ATTEMPT_DURATION_SECONDS:
        problems.append(f"timeout.attemptDurationSeconds {timeout} is below {MIN_ATTEMPT_DURATION_SECONDS}")
    retry = request.get("retryStrategy") or {}
    if "attempts" in retry and not 1 <= retry["attempts"] <= MAX_RETRY_ATTEMPTS:
        problems.append(f"retryStrategy.attempts {retry['attempts']} must be 1..{MAX_RETRY_ATTEMPTS}")
    if len(retry.get("evaluateOnExit") or []) > MAX_EVALUATE_ON_EXIT:
        problems.append(f"retryStrategy.evaluateOnExit has more than {MAX_EVALUATE_ON_EXIT} entries")
    priority = request.get("schedulingPriorityOverride")
    if priority is not None and not 0 <= priority <= MAX_SCHEDULING_PRIORITY:
        problems.append(f"schedulingPriorityOverride {priority} must be 0..{MAX_SCHEDULING_PRIORITY}")
    if problems:
        raise SubmitRequestError(problems)


def revision_of(job_definition_arn: str) -> tuple[str, int | None]:
    """``("<family>", <revision>)`` of a job definition ARN or ``name:revision``; revision None if absent."""
    tail = job_definition_arn.rsplit("/", 1)[-1]
    family, _, revision = tail.rpartition(":")
    if family and revision.isdigit():
        return family, int(revision)
    return tail, None
