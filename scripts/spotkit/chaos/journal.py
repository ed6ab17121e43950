"""The experiment's journal (Chaos Toolkit vocabulary): every probe, action and rollback it ran,
the timeline of what it saw, and the progress lines on the terminal. The report is drawn from it.

Shapes (all times ``t`` are seconds since the run started, ``at`` ISO 8601 UTC):

* activity: ``{type: "probe"|"action"|"rollback", name, start, end, status:
  "succeeded"|"failed"|"skipped", output?, error?}``
* event: ``{t, at, subject: "instance:i-…"|"job:<id>"|"run", kind, detail}`` with kind one of
  RUNNING, warning, rebalance, interrupted, FAILED, resubmitted, retried, RUNNING-again, SUCCEEDED,
  injected, rollback, note
* rollback: ``{name, status, detail, t}``
* timeline line: ``{t, event}`` (the progress lines, as printed)
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from rich.console import Console


def _iso(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).isoformat(timespec="milliseconds")


class Journal:
    """Records activities, events and rollbacks, and prints progress with elapsed seconds."""

    def __init__(self, clock: Callable[[], float], console: Console | None = None):
        self.clock = clock
        self.console = console or Console(stderr=True)
        self.t0 = clock()
        self.activities: list = []
        self.events: list = []
        self.rollbacks: list = []
        self.timeline: list = []

    def elapsed(self) -> float:
        """Seconds since the journal was opened, one decimal."""
        return round(self.clock() - self.t0, 1)

    def log(self, message: str, style: str = "") -> None:
        """A progress line (also kept in ``timeline``)."""
        self.timeline.append({"t": self.elapsed(), "event": message})
        self.console.print(f"[dim]+{self.elapsed():7.1f} s[/dim] {message}", style=style or None, highlight=False)

    def activity(self, kind: str, name: str, fn: Callable, *args, output: Callable | None = None, **kwargs):
        """Run ``fn(*args, **kwargs)`` as a probe or action, journal it and return its result.

        ``output(result)``, when given, is what the journal keeps as the activity's output (JSON-able).
        Exceptions are journaled (status failed, error) and re-raised.
        """
        entry = {"type": kind, "name": name, "start": self.elapsed(), "end": None, "status": "running"}
        self.activities.append(entry)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            entry.update(status="failed", end=self.elapsed(), error=str(exc) or type(exc).__name__)
            raise
        entry.update(status="succeeded", end=self.elapsed())
        if output is not None:
            entry["output"] = output(result)
        return result

    def skipped(self, kind: str, name: str, why: str) -> None:
        now = self.elapsed()
        self.activities.append({"type": kind, "name": name, "start": now, "end": now, "status": "skipped",
                                "output": why})

    def event(self, subject: str, kind: str, detail: str = "", style: str = "") -> dict:
        """A timeline event of ``subject`` (``instance:i-…``, ``job:<id>``, ``run``); also printed."""
        ev = {"t": self.elapsed(), "at": _iso(), "subject": subject, "kind": kind, "detail": detail}
        self.events.append(ev)
        self.log(f"{subject} {kind}{': ' + detail if detail else ''}", style)
        return ev

    def add_events(self, events) -> None:
        """Merge events produced elsewhere (the recovery tracker's), keeping time order."""
        for ev in events:
            if ev not in self.events:
                self.events.append(ev)
        self.events.sort(key=lambda e: (e.get("t") or 0))

    def rollback(self, name: str, status: str, detail: str = "") -> dict:
        """Record a rollback (undo) that ran: also an activity of type rollback and an event."""
        now = self.elapsed()
        rb = {"name": name, "status": status, "detail": detail, "t": now}
        self.rollbacks.append(rb)
        self.activities.append({"type": "rollback", "name": name, "start": now, "end": now,
                                "status": "succeeded" if status == "succeeded" else "failed",
                                "output": detail})
        self.event("run", "rollback", f"{name}: {status}{' (' + detail + ')' if detail else ''}",
                   "green" if status == "succeeded" else "bold red")
        return rb
