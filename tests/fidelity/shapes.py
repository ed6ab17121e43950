"""Structural comparison of JSON payloads against captured AWS payloads (tests/fidelity/aws/).

A *shape* is what a payload looks like with the values taken out: the keys of every object (recursively),
the merged shape of a list's elements, and the JSON type of every leaf. Strings that match a known AWS
identifier pattern (job ARN, array child id, EC2 instance id, ...) carry that pattern as their ``format``,
so a candidate whose ``jobId`` is not a UUID, or whose ``resources`` hold a queue ARN instead of a job
ARN, is reported even though both are strings.

Use it to hold the emulator's events / DescribeJobs JobDetails and the function's sample inputs to what
AWS actually sends::

    >>> from fidelity import shapes  # under pytest tests/ is on sys.path (rootdir conftest, no tests/__init__)
    >>> ref = {"detail": {"jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8", "attempts": [], "tags": {}}}
    >>> cand = {"detail": {"jobId": "job-1", "attempts": [], "timeout": {"attemptDurationSeconds": 60}}}
    >>> for line in shapes.compare(cand, ref):
    ...     print(line)
    format: detail.jobId: candidate string, reference string<uuid>
    missing: detail.tags (reference: object)
    extra: detail.timeout (candidate: object)
    >>> shapes.compare(cand, ref, allow_extra=["detail.timeout"], ignore=["detail.jobId", "detail.tags"])
    []
    >>> shapes.render(shapes.shape({"a": [1, None], "b": "i-0b662ef9931388ba0"}))
    '{a: [null|number], b: string<instance-id>}'

Paths are dotted keys from the root; a list's elements are ``[]`` (``detail.attempts[].container``).
``allow_extra`` and ``ignore`` take ``fnmatch`` patterns over those paths; a pattern also covers
everything below the path it names (``ignore=["detail.container"]`` ignores the whole container).

Shapes are plain dicts with a ``"type"`` key (JSON-serialisable, so they can be dumped for a diff):
``{"type": "object", "keys": {name: shape}, "optional": [names]}``, ``{"type": "array", "items":
shape | None}`` (None: no element seen), ``{"type": "string", "format": name | None}``, ``{"type":
"number" | "boolean" | "null"}`` and ``{"type": "union", "of": [shape, ...]}`` when list elements
disagree. ``optional`` lists keys that only some elements of a list carried.

The event semantics AWS gives a "Batch Job State Change" event (``batch_event_semantics``) come from
the captured payloads, see tests/fidelity/SOURCES.md: AWS Batch User Guide, "Job state change events"
(https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html) and the public captures
listed there.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import Any

Shape = dict[str, Any]

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_PARTITION = r"aws(?:-cn|-us-gov)?"
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d"
_ACCOUNT = r"\d{12}"

#: (format name, full-match regex), tried in order; the first match names the string's format.
STRING_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("uuid", _UUID),
    ("array-child-id", rf"{_UUID}:\d+"),
    ("batch-job-arn", rf"arn:{_PARTITION}:batch:{_REGION}:{_ACCOUNT}:job/{_UUID}"),
    ("batch-array-child-arn", rf"arn:{_PARTITION}:batch:{_REGION}:{_ACCOUNT}:job/{_UUID}:\d+"),
    ("batch-job-queue-arn", rf"arn:{_PARTITION}:batch:{_REGION}:{_ACCOUNT}:job-queue/[A-Za-z0-9_-]+"),
    ("batch-job-definition-arn", rf"arn:{_PARTITION}:batch:{_REGION}:{_ACCOUNT}:job-definition/[A-Za-z0-9_-]+:\d+"),
    ("batch-compute-environment-arn",
     rf"arn:{_PARTITION}:batch:{_REGION}:{_ACCOUNT}:compute-environment/[A-Za-z0-9_-]+"),
    ("ecs-task-arn", rf"arn:{_PARTITION}:ecs:{_REGION}:{_ACCOUNT}:task/[A-Za-z0-9_-]+/[0-9a-f]{{32}}"),
    ("ecs-container-instance-arn",
     rf"arn:{_PARTITION}:ecs:{_REGION}:{_ACCOUNT}:container-instance/[A-Za-z0-9_-]+/[0-9a-f]{{32}}"),
    # The Spot interruption warning's ARN names the Availability Zone and no account (EC2 User Guide,
    # spot-instance-termination-notices.html); the rebalance recommendation's names region and account.
    ("ec2-instance-arn", rf"arn:{_PARTITION}:ec2:{_REGION}[a-z]?(?::{_ACCOUNT})?:instance/i-[0-9a-f]{{8,17}}"),
    ("instance-id", r"i-[0-9a-f]{8,17}"),
    ("iam-role-arn", rf"arn:{_PARTITION}:iam::{_ACCOUNT}:role/[\w+=,.@/-]+"),
    ("account-id", _ACCOUNT),
    ("timestamp-iso8601", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"),
))


def string_format(value: str) -> str | None:
    """The name of the first ``STRING_FORMATS`` pattern that matches all of ``value``, else None."""
    for name, pattern in STRING_FORMATS:
        if pattern.fullmatch(value):
            return name
    return None


def shape(value: Any) -> Shape:
    """The structural description of a JSON value (see the module docstring for the shape dicts).

    Raises TypeError for a value that is not JSON (a set, bytes, an object).
    """
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):  # before int: bool is an int subclass
        return {"type": "boolean"}
    if isinstance(value, (int, float)):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string", "format": string_format(value)}
    if isinstance(value, dict):
        return {"type": "object", "keys": {str(k): shape(v) for k, v in value.items()}, "optional": []}
    if isinstance(value, list):
        items: Shape | None = None
        for element in value:
            items = shape(element) if items is None else merge(items, shape(element))
        return {"type": "array", "items": items}
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def merge(a: Shape, b: Shape) -> Shape:
    """One shape covering both ``a`` and ``b`` (the elements of one list).

    Objects: union of keys, keys present in only one side become ``optional``; arrays: merged items;
    strings: the format survives only if both agree; different types: a ``union``.
    """
    if a["type"] == "union" or b["type"] == "union":
        members = _members(a) + _members(b)
        out: list[Shape] = []
        for m in members:
            for i, o in enumerate(out):
                if o["type"] == m["type"]:
                    out[i] = merge(o, m)
                    break
            else:
                out.append(m)
        return out[0] if len(out) == 1 else {"type": "union", "of": sorted(out, key=lambda s: s["type"])}
    if a["type"] != b["type"]:
        return merge({"type": "union", "of": [a]}, b)
    kind = a["type"]
    if kind == "object":
        keys: dict[str, Shape] = {}
        optional = set(a["optional"]) | set(b["optional"])
        for name in list(a["keys"]) + [k for k in b["keys"] if k not in a["keys"]]:
            if name in a["keys"] and name in b["keys"]:
                keys[name] = merge(a["keys"][name], b["keys"][name])
            else:
                keys[name] = a["keys"].get(name) or b["keys"][name]
                optional.add(name)
        return {"type": "object", "keys": keys, "optional": sorted(optional)}
    if kind == "array":
        if a["items"] is None or b["items"] is None:
            return {"type": "array", "items": a["items"] or b["items"]}
        return {"type": "array", "items": merge(a["items"], b["items"])}
    if kind == "string":
        return {"type": "string", "format": a["format"] if a["format"] == b["format"] else None}
    return dict(a)


def _members(s: Shape) -> list[Shape]:
    return list(s["of"]) if s["type"] == "union" else [s]


def render(s: Shape | None) -> str:
    """A compact one-line rendering of a shape: ``{a: [number|null], b: string<instance-id>}``."""
    if s is None:
        return "?"
    kind = s["type"]
    if kind == "object":
        opt = set(s["optional"])
        inner = ", ".join(f"{k}{'?' if k in opt else ''}: {render(v)}" for k, v in s["keys"].items())
        return "{" + inner + "}"
    if kind == "array":
        return "[" + ("" if s["items"] is None else render(s["items"])) + "]"
    if kind == "union":
        return "|".join(render(m) for m in s["of"])
    if kind == "string" and s.get("format"):
        return f"string<{s['format']}>"
    return kind


def _label(s: Shape) -> str:
    """The type of a shape for a message: objects/arrays by kind, leaves rendered in full."""
    if s["type"] in ("object", "array"):
        return s["type"]
    if s["type"] == "union":
        return "|".join(_label(m) for m in s["of"])
    return render(s)


def _covered(path: str, patterns: Iterable[str]) -> bool:
    for p in patterns:
        if fnmatch.fnmatchcase(path, p) or path.startswith(p + ".") or path.startswith(p + "[]"):
            return True
    return False


def compare(candidate: Any, reference: Any, *, allow_extra: Iterable[str] = (), ignore: Iterable[str] = (),
            formats: bool = True) -> list[str]:
    """Human-readable structural differences between ``candidate`` and ``reference`` (JSON values).

    Reported, in path order within each object:

    - ``missing: <path> (reference: <type>)``: the reference has the key at that level, the candidate
      does not (keys ``optional`` in the reference, i.e. absent from some of its list elements, are not
      required);
    - ``extra: <path> (candidate: <type>)``: the candidate has a key the reference lacks, unless the path
      is covered by ``allow_extra``;
    - ``type: <path>: candidate <type>, reference <type>``: the JSON types differ (a ``null`` where the
      reference has a number is a difference; a type that is one member of a reference union is not);
    - ``format: <path>: candidate string, reference string<fmt>``: with ``formats`` (default), a string
      the reference classifies (``STRING_FORMATS``) that the candidate's does not match.

    Lists are compared element shape to element shape; an empty list on either side says nothing about
    the elements and is not a difference. Paths covered by ``ignore`` are skipped entirely.
    Returns [] when the candidate has the reference's shape. Raises TypeError for non-JSON values.
    """
    out: list[str] = []
    _compare(shape(candidate), shape(reference), "", tuple(allow_extra), tuple(ignore), formats, out)
    return out


def compare_shapes(candidate: Shape, reference: Shape, *, allow_extra: Iterable[str] = (),
                   ignore: Iterable[str] = (), formats: bool = True) -> list[str]:
    """``compare`` for shapes already computed (e.g. a reference merged from several captures)."""
    out: list[str] = []
    _compare(candidate, reference, "", tuple(allow_extra), tuple(ignore), formats, out)
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _compare(cand: Shape, ref: Shape, path: str, allow_extra: tuple[str, ...], ignore: tuple[str, ...],
             formats: bool, out: list[str]) -> None:
    if path and _covered(path, ignore):
        return
    if ref["type"] == "union":
        matching = [m for m in ref["of"] if m["type"] == cand["type"]]
        if cand["type"] == "union":
            for m in cand["of"]:
                _compare(m, ref, path, allow_extra, ignore, formats, out)
            return
        if not matching:
            out.append(f"type: {path or '<root>'}: candidate {_label(cand)}, reference {_label(ref)}")
            return
        ref = matching[0]
    if cand["type"] == "union":
        for m in cand["of"]:
            _compare(m, ref, path, allow_extra, ignore, formats, out)
        return
    if cand["type"] != ref["type"]:
        out.append(f"type: {path or '<root>'}: candidate {_label(cand)}, reference {_label(ref)}")
        return
    kind = ref["type"]
    if kind == "object":
        optional = set(ref["optional"])
        for key, sub in ref["keys"].items():
            sub_path = _join(path, key)
            if key not in cand["keys"]:
                if key not in optional and not _covered(sub_path, ignore):
                    out.append(f"missing: {sub_path} (reference: {_label(sub)})")
                continue
            _compare(cand["keys"][key], sub, sub_path, allow_extra, ignore, formats, out)
        for key, sub in cand["keys"].items():
            sub_path = _join(path, key)
            if key not in ref["keys"] and not _covered(sub_path, allow_extra) and not _covered(sub_path, ignore):
                out.append(f"extra: {sub_path} (candidate: {_label(sub)})")
    elif kind == "array":
        if cand["items"] is not None and ref["items"] is not None:
            _compare(cand["items"], ref["items"], path + "[]", allow_extra, ignore, formats, out)
    elif kind == "string" and formats and ref["format"] and cand["format"] != ref["format"]:
        out.append(f"format: {path or '<root>'}: candidate {render(cand)}, reference {render(ref)}")


def batch_event_semantics(event: dict) -> list[str]:
    """Problems with the value relations AWS keeps in a "Batch Job State Change" event; [] if none.

    Checked (each from a capture in tests/fidelity/aws/, see SOURCES.md):

    - ``resources == [detail.jobArn]`` (every captured event, array child included);
    - ``detail.jobArn`` ends with ``job/<detail.jobId>``;
    - ``detail.tags == {"resourceArn": <arn>}`` (the event carries a placeholder, never the job's tags)
      where ``<arn>`` is ``detail.jobArn`` for a job and the *parent's* job ARN (``jobArn`` without the
      ``:<index>`` suffix) for an array child: the only captured array-child event (public capture,
      2022-06-18, SUCCEEDED child 12) carries the parent ARN;
    - an array child (``jobId`` ``<uuid>:<N>``) has ``detail.arrayProperties.index == N``.

    Raises KeyError/TypeError if ``event`` has no ``detail`` object.
    """
    problems: list[str] = []
    detail = event["detail"]
    job_arn, job_id = detail.get("jobArn"), detail.get("jobId")
    if event.get("resources") != [job_arn]:
        problems.append(f"resources {event.get('resources')!r} != [detail.jobArn] ([{job_arn!r}])")
    if not (isinstance(job_arn, str) and isinstance(job_id, str) and job_arn.endswith(f":job/{job_id}")):
        problems.append(f"detail.jobArn {job_arn!r} does not end with job/{job_id!r}")
    child = isinstance(job_id, str) and re.fullmatch(rf"{_UUID}:(\d+)", job_id)
    tag_arn = job_arn.rsplit(":", 1)[0] if child and isinstance(job_arn, str) else job_arn
    if detail.get("tags") != {"resourceArn": tag_arn}:
        problems.append(f"detail.tags {detail.get('tags')!r} != {{'resourceArn': {tag_arn!r}}}")
    if child:
        index = (detail.get("arrayProperties") or {}).get("index")
        if index != int(child.group(1)):
            problems.append(f"detail.arrayProperties.index {index!r} != {int(child.group(1))} (from jobId)")
    return problems
