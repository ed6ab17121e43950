"""A cleaned, typed view of a chaos report for the JUnit and HTML renderers (``spotkit.chaos.report``).

``view(report)`` never raises on a report dict of any shape: missing keys, ``None`` values, values of
the wrong type, reports written before the ``jobs``/``events``/``journal`` keys existed (then
``method`` was the journal and ``timeline`` held ``{t, event}`` lines) all give a usable ``View``.
Every string in it is ``str`` with the characters XML 1.0 forbids (NUL, other C0 controls, lone
surrogates, U+FFFE/U+FFFF) and the bidi overrides/isolates (U+202A-U+202E, U+2066-U+2069) replaced
by U+FFFD; escaping is left to the renderers. Times are float seconds (``None`` when unknown); NaN
and infinities count as unknown.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

# Characters XML 1.0 does not allow, and which no browser or JUnit consumer should be handed; plus the
# bidirectional overrides and isolates, which would let a string display reversed or reorder its
# neighbours ("Trojan Source").
_XML_ILLEGAL = re.compile(
    "[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u202a-\u202e\u2066-\u2069]"
)

# Event kinds of the report contract, in lifecycle order (the HTML legend's order).
EVENT_KINDS = (
    "injected",
    "RUNNING",
    "rebalance",
    "warning",
    "interrupted",
    "FAILED",
    "resubmitted",
    "retried",
    "RUNNING-again",
    "SUCCEEDED",
    "rollback",
    "note",
)
# Rollback and journal statuses that are not a failure.
OK_STATUSES = frozenset({"succeeded", "skipped", "ok"})


def text(value: Any, default: str = "") -> str:
    """``value`` as a string safe for XML 1.0 (JSON for lists and dicts); ``default`` for None."""
    if value is None:
        return default
    if isinstance(value, str):
        s = value
    elif isinstance(value, (dict, list, tuple)):
        try:
            s = json.dumps(value, default=str, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):  # circular or unsortable keys
            s = repr(value)
    else:
        s = str(value)
    return _XML_ILLEGAL.sub("\ufffd", s)


def opt_text(value: Any) -> Optional[str]:
    """Like ``text`` but None (and the empty string) stay None."""
    s = text(value)
    return s or None


def number(value: Any) -> Optional[float]:
    """A finite float from an int, float or numeric string; None otherwise (booleans too)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def integer(value: Any) -> Optional[int]:
    f = number(value)
    return int(f) if f is not None and f == int(f) else None


def boolean(value: Any) -> Optional[bool]:
    return value if isinstance(value, bool) else None


def dicts(value: Any) -> list:
    """The dict items of a list (anything else: empty)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, (list, tuple)) else []


def parse_time(value: Any) -> Optional[datetime]:
    """An aware datetime from an ISO 8601 string (``Z`` accepted; naive taken as UTC), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def strip_markup(s: str) -> str:
    """Plain text of a rich-markup line (legacy timelines hold ``[green]ok[/green]``)."""
    try:
        from rich.text import Text

        return Text.from_markup(s).plain
    except Exception:  # noqa: BLE001 - malformed markup: show it as it is
        return s


@dataclass
class Job:
    job_id: str
    job_name: Optional[str] = None
    array_index: Optional[int] = None
    instance_id: Optional[str] = None
    recovery: Optional[str] = None
    recovered_job_id: Optional[str] = None
    successors: Optional[int] = None
    passed: Optional[bool] = None
    problems: list = field(default_factory=list)
    seconds_to_failure: Optional[float] = None
    seconds_to_recovery: Optional[float] = None
    seconds_to_running: Optional[float] = None

    @property
    def title(self) -> str:
        """``<job name> <job id>[ index N]`` (the JUnit test case name)."""
        name = f"{self.job_name} {self.job_id}" if self.job_name else self.job_id
        return name if self.array_index is None else f"{name} index {self.array_index}"


@dataclass
class Event:
    t: Optional[float]
    at: Optional[str]
    subject: Optional[str]
    kind: str  # as reported
    key: str  # one of EVENT_KINDS ("note" for anything else)
    detail: str


@dataclass
class Step:
    type: str
    name: str
    start: Optional[float]
    end: Optional[float]
    status: Optional[str]
    output: Optional[str]
    error: Optional[str]

    @property
    def seconds(self) -> Optional[float]:
        return None if self.start is None or self.end is None else round(self.end - self.start, 3)


@dataclass
class Probe:
    when: str
    name: str
    tolerance: Optional[str]
    value: Optional[str]
    ok: Optional[bool]


@dataclass
class Rollback:
    name: str
    status: Optional[str]
    detail: Optional[str]
    t: Optional[float]

    @property
    def ok(self) -> bool:
        return (self.status or "").lower() in OK_STATUSES


@dataclass
class Target:
    instance_id: str
    instance_type: Optional[str]
    compute_environment: Optional[str]
    jobs: list


@dataclass
class View:
    passed: bool
    run_id: str
    env: str
    method: str
    recovery: Optional[str]
    time_scale: Optional[float]
    aws_provider_version: Optional[str]
    started_at: Optional[str]
    finished_at: Optional[str]
    duration: Optional[float]  # seconds from started_at to finished_at
    failure_reason: Optional[str]
    interrupted: Optional[str]
    probes: list
    rollbacks: list
    config: dict
    journal: list
    targets: list
    jobs: list
    events: list
    legacy: bool  # written before jobs/events/journal existed

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    @property
    def steady_state_ok(self) -> Optional[bool]:
        """False when a probe deviated, None when no probe was recorded, else True."""
        if not self.probes:
            return None
        return all(p.ok is True for p in self.probes)

    @property
    def rollbacks_ok(self) -> bool:
        return all(r.ok for r in self.rollbacks)


def _job(d: dict, fallback_passed: Optional[bool] = None) -> Optional[Job]:
    job_id = opt_text(d.get("job_id"))
    if not job_id:
        return None
    problems = d.get("problems")
    if isinstance(problems, (list, tuple)):
        problems = [text(p) for p in problems if p is not None]
    else:
        problems = [text(problems)] if problems else []
    passed = boolean(d.get("passed"))
    return Job(
        job_id=job_id,
        job_name=opt_text(d.get("job_name")),
        array_index=integer(d.get("array_index")),
        instance_id=opt_text(d.get("instance_id")),
        recovery=opt_text(d.get("recovery")),
        recovered_job_id=opt_text(d.get("recovered_job_id")),
        successors=integer(d.get("successors")),
        passed=fallback_passed if passed is None else passed,
        problems=problems,
        seconds_to_failure=number(d.get("seconds_to_failure")),
        seconds_to_recovery=number(d.get("seconds_to_recovery")),
        seconds_to_running=number(d.get("seconds_to_running")),
    )


def _step(d: dict) -> Step:
    output = d.get("output")
    return Step(
        type=text(d.get("type"), "?"),
        name=text(d.get("name"), "?"),
        start=number(d.get("start")),
        end=number(d.get("end")),
        status=opt_text(d.get("status")),
        output=None if output is None else text(output),
        error=opt_text(d.get("error")),
    )


def view(report: Any) -> View:
    """The cleaned view of ``report`` (any value; a non-dict reads as an empty report)."""
    r = report if isinstance(report, dict) else {}
    started = parse_time(r.get("started_at"))
    finished = parse_time(r.get("finished_at"))
    duration = (finished - started).total_seconds() if started and finished else None
    if duration is not None and duration < 0:
        duration = None

    legacy = not any(k in r for k in ("jobs", "events", "journal", "targets"))
    method = r.get("method")
    journal_src = r.get("journal")
    if not isinstance(method, str):
        if journal_src is None and isinstance(method, list):  # legacy: `method` was the journal
            journal_src = method
        # Before methods existed the experiment was the Spot Fleet capacity cut.
        method = "fleet-capacity" if legacy and r.get("fleet_request_id") else None

    passed = r.get("passed") is True
    jobs = [j for j in (_job(d) for d in dicts(r.get("jobs"))) if j]
    if legacy and not jobs and r.get("original_job_id"):
        jobs = [j for j in [_job({**r, "job_id": r.get("original_job_id")}, passed)] if j]

    probes = []
    steady = r.get("steady_state") if isinstance(r.get("steady_state"), dict) else {}
    for when in ("before", "after"):
        for p in dicts(steady.get(when)):
            probes.append(
                Probe(
                    when=when,
                    name=text(p.get("name"), "?"),
                    tolerance=opt_text(p.get("tolerance")),
                    value=opt_text(p.get("value")),
                    ok=boolean(p.get("ok")),
                )
            )

    events = []
    for e in dicts(r.get("events")):
        t = number(e.get("t"))
        at = opt_text(e.get("at"))
        if t is None and started and parse_time(at):
            t = round((parse_time(at) - started).total_seconds(), 3)
        kind = text(e.get("kind"), "note")
        events.append(
            Event(
                t=t,
                at=at,
                subject=opt_text(e.get("subject")),
                kind=kind,
                key=kind if kind in EVENT_KINDS else "note",
                detail=text(e.get("detail")),
            )
        )
    if legacy:
        for e in dicts(r.get("timeline")):
            events.append(Event(number(e.get("t")), None, None, "note", "note", strip_markup(text(e.get("event")))))

    targets = []
    for d in dicts(r.get("targets")):
        iid = opt_text(d.get("instance_id"))
        if iid:
            tjobs = d.get("jobs") if isinstance(d.get("jobs"), (list, tuple)) else []
            targets.append(
                Target(
                    instance_id=iid,
                    instance_type=opt_text(d.get("instance_type")),
                    compute_environment=opt_text(d.get("compute_environment")),
                    jobs=[text(j) for j in tjobs if j],
                )
            )

    config = r.get("config") if isinstance(r.get("config"), dict) else {}
    return View(
        passed=passed,
        run_id=text(r.get("run_id"), "unknown"),
        env=text(r.get("env"), "unknown"),
        method=text(method, "unknown"),
        recovery=opt_text(r.get("recovery")),
        time_scale=number(r.get("time_scale")),
        aws_provider_version=opt_text(r.get("aws_provider_version")),
        started_at=opt_text(r.get("started_at")),
        finished_at=opt_text(r.get("finished_at")),
        duration=duration,
        failure_reason=opt_text(r.get("failure_reason")),
        interrupted=opt_text(r.get("interrupted")),
        probes=probes,
        rollbacks=[
            Rollback(
                name=text(d.get("name"), "?"),
                status=opt_text(d.get("status")),
                detail=opt_text(d.get("detail")),
                t=number(d.get("t")),
            )
            for d in dicts(r.get("rollbacks"))
        ],
        config={text(k): text(v, "null") for k, v in config.items()},
        journal=[_step(d) for d in dicts(journal_src)],
        targets=targets,
        jobs=jobs,
        events=events,
        legacy=legacy,
    )


def seconds(value: Optional[float], none: str = "-") -> str:
    """``12.3 s`` / ``0.25 s`` / ``none`` for unknown."""
    if value is None:
        return none
    if abs(value) >= 100:
        return f"{value:.0f} s"
    if abs(value) >= 10:
        return f"{value:.1f} s"
    return f"{value:.2f}".rstrip("0").rstrip(".") + " s"
