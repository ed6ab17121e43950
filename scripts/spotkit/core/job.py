"""Typed views of what AWS Batch tells about a job: the event, and DescribeJobs.

Two sources, two levels of trust (AWS Batch User Guide, "Job state change events",
https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html; AWS Batch API Reference,
JobDetail, https://docs.aws.amazon.com/batch/latest/APIReference/API_JobDetail.html):

* a "Batch Job State Change" event says WHICH job changed and WHY (``jobId``, ``status``,
  ``statusReason``, ``attempts``). Its ``detail`` resembles a JobDetail, but its ``tags`` is a
  placeholder, ``{"resourceArn": "<job arn>"}`` -- not the job's tags -- and a captured FAILED event
  carries no ``timeout`` (tests/fidelity/aws/ holds the captures). So nothing the job was submitted
  with is read from the event when DescribeJobs can say it;
* a DescribeJobs ``JobDetail`` carries the job as submitted: tags, timeout, container, parameters,
  retry strategy, share identifier, scheduling priority.

:class:`JobDetail` wraps either; ``from_event`` marks the event's view so its placeholder tags are
never taken for the job's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: ``source`` and ``detail-type`` of the events the function handles.
EVENT_SOURCE = "aws.batch"
EVENT_DETAIL_TYPE = "Batch Job State Change"
#: Tag key prefix reserved by AWS (users cannot set ``aws:`` tags).
RESERVED_TAG_PREFIX = "aws:"
#: Environment variable name prefix Batch reserves and injects (job_env_vars.html).
RESERVED_ENV_PREFIX = "AWS_BATCH"


class MalformedEventError(ValueError):
    """The event is not a usable "Batch Job State Change" event (missing or mistyped fields)."""


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
    "dependsOn": list,
}


def container_environment(detail: Mapping[str, Any]) -> dict[str, str]:
    """``container.environment`` of a JobDetail (or an event's detail) as ``{name: value}``; entries
    without a string name are ignored."""
    items = (detail.get("container") or {}).get("environment") or []
    return {i["name"]: str(i.get("value", "")) for i in items
            if isinstance(i, Mapping) and isinstance(i.get("name"), str)}


def _require_str(detail: Mapping[str, Any], key: str, where: str) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or not value:
        got = "missing" if key not in detail else f"{type(value).__name__} {value!r}"
        raise MalformedEventError(f"{where}.{key} must be a non-empty string, got {got}")
    return value


@dataclass(frozen=True)
class JobDetail:
    """A job as an event or DescribeJobs describes it.

    Attributes:
        raw: the ``detail`` / JobDetail mapping as received (unknown fields kept and ignored).
        from_event: True when ``raw`` is an event's ``detail`` (tags are then a placeholder).
    """

    raw: Mapping[str, Any] = field(repr=False)
    from_event: bool = False

    @classmethod
    def parse(cls, detail: Any, *, from_event: bool, where: str = "detail") -> JobDetail:
        """Validate ``detail`` and wrap it.

        Raises:
            MalformedEventError: not an object, ``jobId``/``jobName``/``jobQueue``/
                ``jobDefinition``/``status`` missing or not strings, a known optional field of the
                wrong type, or non-string tag or parameter values.
        """
        if not isinstance(detail, Mapping):
            raise MalformedEventError(f"{where} must be a JSON object, got {type(detail).__name__}")
        for key in ("jobId", "jobName", "jobQueue", "jobDefinition", "status"):
            _require_str(detail, key, where)
        for key, expected in _OPTIONAL_TYPES.items():
            value = detail.get(key)
            if value is not None and (not isinstance(value, expected) or
                                      (expected is int and isinstance(value, bool))):
                raise MalformedEventError(f"{where}.{key} has type {type(value).__name__}, expected "
                                          f"{getattr(expected, '__name__', expected)}")
        for name in ("tags", "parameters"):
            for k, v in (detail.get(name) or {}).items():
                if not isinstance(v, str):
                    raise MalformedEventError(f"{where}.{name}[{k!r}] must be a string, got {type(v).__name__}")
        if any(not isinstance(a, Mapping) for a in detail.get("attempts") or []):
            raise MalformedEventError(f"{where}.attempts must be a list of objects")
        return cls(detail, from_event)

    # ---------------------------------------------------------------- identity
    @property
    def job_id(self) -> str:
        return self.raw["jobId"]

    @property
    def job_arn(self) -> str | None:
        return self.raw.get("jobArn")

    @property
    def job_name(self) -> str:
        return self.raw["jobName"]

    @property
    def job_queue(self) -> str:
        return self.raw["jobQueue"]

    @property
    def job_definition(self) -> str:
        """The job definition ARN with revision (``...:job-definition/<name>:<revision>``)."""
        return self.raw["jobDefinition"]

    @property
    def status(self) -> str:
        return self.raw["status"]

    @property
    def status_reason(self) -> str:
        return self.raw.get("statusReason") or ""

    # ------------------------------------------------------------------ arrays
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

    # -------------------------------------------------------- what it carries
    @property
    def tags(self) -> dict[str, str]:
        """The job's tags; {} for an event's view, whose ``tags`` is AWS's ``resourceArn`` placeholder."""
        if self.from_event:
            return {}
        return dict(self.raw.get("tags") or {})

    @property
    def timeout_seconds(self) -> int | None:
        """``timeout.attemptDurationSeconds`` in seconds, or None (unset, or unknown from an event)."""
        value = (self.raw.get("timeout") or {}).get("attemptDurationSeconds")
        return int(value) if value else None

    @property
    def environment(self) -> dict[str, str]:
        """``container.environment`` as a dict (:func:`container_environment`)."""
        return container_environment(self.raw)


def parse_event(event: Any) -> JobDetail | None:
    """The job of an EventBridge "Batch Job State Change" event, or None for any other event.

    Args:
        event: the EventBridge envelope (object with ``source``, ``detail-type`` and ``detail``).

    Returns:
        A :class:`JobDetail` with ``from_event=True``, or None when ``source``/``detail-type`` say it
        is some other event.

    Raises:
        MalformedEventError: see :meth:`JobDetail.parse`.
    """
    if not isinstance(event, Mapping):
        raise MalformedEventError(f"event must be a JSON object, got {type(event).__name__}")
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != EVENT_DETAIL_TYPE:
        return None
    if "detail" not in event:
        raise MalformedEventError("detail must be a JSON object, got missing")
    return JobDetail.parse(event["detail"], from_event=True)
