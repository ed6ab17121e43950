"""Publish the function's decisions to EventBridge: collected while a batch is handled, flushed once.

The stages :func:`record` one decision event per failed job (:mod:`spotkit.core.decisions` builds
it); the handler calls :func:`flush` after the batch's last SubmitJob, so publishing never delays a
resubmission and costs ``ceil(events / 10)`` PutEvents calls per batch -- one for the default
batch size of 10 (PutEvents takes at most 10 entries a call, EventBridge API Reference, PutEvents,
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).

Publishing never breaks the resubmission: PutEvents answers per entry (``FailedEntryCount``,
``Entries[i].ErrorCode``), so the failed entries are retried (at most :data:`RETRIES` more times,
short backoff, only while the invocation has time); a call that fails as a whole (an error
response, a timeout) is retried by botocore (standard mode, :data:`MAX_ATTEMPTS` attempts). What is
still unpublished after that is logged (detail-type, job id, error code -- never the detail) and
counted as the EMF metric ``decision-events-failed``, which modules/spot-resubmit alarms on; the
record itself succeeds, because its resubmission did.

Configuration: ``SPOTKIT_DECISION_EVENT_BUS`` -- the event bus name or ARN (``default`` for the
account's default bus); empty turns publishing off. Permission: ``events:PutEvents`` on that bus.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from spotkit.core.decisions import MAX_ENTRIES_PER_CALL, DetailType, put_events_entry
from telemetry import count, logger

BUS_ENV = "SPOTKIT_DECISION_EVENT_BUS"
#: Retries of the entries PutEvents reported as failed, and the pause before each (seconds).
RETRIES = 2
RETRY_PAUSE_SECONDS = (0.1, 0.4)
#: botocore attempts per PutEvents call (standard retry mode) and its timeouts (seconds).
MAX_ATTEMPTS = 3
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
#: Time kept back from the invocation's deadline (seconds): no retry pause beyond it.
DEADLINE_MARGIN_SECONDS = 3.0

_pending: list[dict[str, Any]] = []


@dataclass(frozen=True)
class FlushReport:
    """What :func:`flush` did: entries ``published``, ``failed`` (given up), PutEvents ``calls``."""

    published: int = 0
    failed: int = 0
    calls: int = 0


def bus() -> str:
    """The configured event bus ('' = publishing off)."""
    return os.environ.get(BUS_ENV, "").strip()


@functools.lru_cache(maxsize=None)
def _client():
    from batchapi import _session  # the function's one botocore session

    return _session.create_client("events", config=Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=READ_TIMEOUT_SECONDS))


def record(detail_type: DetailType, detail: Mapping[str, Any]) -> None:
    """Queue one decision event for the next :func:`flush` (nothing is sent yet; no-op when off)."""
    name = bus()
    if name:
        _pending.append(put_events_entry(detail_type, detail, event_bus=None if name == "default" else name))


def pending() -> list[dict[str, Any]]:
    """The entries queued since the last flush (a copy)."""
    return list(_pending)


def discard() -> None:
    """Drop the queued entries (a new invocation starts clean even if the previous one crashed)."""
    _pending.clear()


def flush(remaining_seconds: Callable[[], float] = lambda: 60.0, *, client=None,
          sleep: Callable[[float], None] = time.sleep) -> FlushReport:
    """Publish every queued entry, at most 10 per PutEvents call; never raises.

    Args:
        remaining_seconds: the invocation's remaining time (seconds); retries stop before it ends.
        client: an EventBridge client (default: the function's, created on first use).
        sleep: pause function (tests).

    Returns:
        A :class:`FlushReport`. Entries not published are logged and counted
        ``decision-events-failed``.
    """
    entries, published, failed, calls = list(_pending), 0, 0, 0
    _pending.clear()
    if not entries:
        return FlushReport()
    client = client or _client()
    for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
        todo = entries[start:start + MAX_ENTRIES_PER_CALL]
        errors: dict[int, str] = {}
        for attempt in range(RETRIES + 1):
            if attempt:
                pause = RETRY_PAUSE_SECONDS[min(attempt - 1, len(RETRY_PAUSE_SECONDS) - 1)]
                if remaining_seconds() - pause < DEADLINE_MARGIN_SECONDS:
                    break
                sleep(pause)
            calls += 1
            try:
                answer = client.put_events(Entries=todo)
            except Exception as exc:  # botocore already retried the call: give up on this chunk
                code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
                errors = {i: code or type(exc).__name__ for i in range(len(todo))}
                break
            results = answer.get("Entries") or []
            retry = []
            errors = {}
            for entry, result in zip(todo, results):
                if result.get("ErrorCode"):
                    errors[len(retry)] = result["ErrorCode"]
                    retry.append(entry)
            published += len(todo) - len(retry)
            if len(results) < len(todo):  # should not happen: treat the unanswered entries as failed
                missing = todo[len(results):]
                errors.update({len(retry) + i: "NoResult" for i in range(len(missing))})
                retry += missing
            todo = retry
            if not todo:
                break
        if todo:
            failed += len(todo)
            logger.error("decision events not published to EventBridge (the resubmissions themselves are done)",
                         extra={"event_bus": bus(), "failed_entries": [
                             {"detail_type": e["DetailType"], "resources": e.get("Resources"),
                              "error_code": errors.get(i)} for i, e in enumerate(todo)]})
    count("decision-events-failed", failed)
    count("decision-events-published", published)
    return FlushReport(published, failed, calls)
