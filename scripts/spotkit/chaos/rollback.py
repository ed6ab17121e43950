"""Undo entries, and ``spotkit chaos rollback``: undo what a crashed experiment left behind.

:func:`apply_entry` is the one way an undo entry (see :mod:`spotkit.chaos.state`) is applied: the
runner uses it on every exit path, ``spotkit chaos rollback`` on the entries a killed run left.
Method entries go to their method module's ``UNDO`` handler; ``terminate-jobs`` is handled here.
Every handler is idempotent.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from botocore.exceptions import BotoCoreError, ClientError

from spotkit.chaos import methods
from spotkit.chaos import state as statelib
from spotkit.core.lookup import describe_jobs

NOTHING = "nothing-to-roll-back"
ROLLED_BACK = "rolled-back"
FAILED = "failed"
CLEANUP_REASON = "spotkit chaos cleanup"
TERMINAL_JOB_STATUSES = ("SUCCEEDED", "FAILED")


class RollbackEnvMismatch(Exception):
    """``--env`` names another environment than the one the state file was written for."""


def _job_name_matches(batch, queues: list, names: list) -> list:
    """Active jobs named one of ``names`` in any of ``queues`` (ListJobs by JOB_NAME).

    Raises:
        botocore.exceptions.ClientError / BotoCoreError: a ListJobs call failed (e.g. throttled);
            nothing can be concluded then.
    """
    ids = []
    for queue in dict.fromkeys(q for q in queues if q):
        for name in names:
            for page in batch.get_paginator("list_jobs").paginate(
                    jobQueue=queue, filters=[{"name": "JOB_NAME", "values": [name]}]):
                ids += [s["jobId"] for s in page.get("jobSummaryList", [])
                        if s.get("status") not in TERMINAL_JOB_STATUSES]
    return ids


def terminate_jobs(entry: dict, client, **_) -> tuple:
    """Undo ``terminate-jobs``: TerminateJob on every job of ``entry["job_ids"]`` that is still active,
    and on the active jobs named one of ``entry["job_names"]`` in ``entry["job_queue"]`` and
    ``entry["fallback_job_queue"]`` (a probe job whose id was never written, and the resubmissions
    of the probe jobs, which keep their names and may land in the resubmit function's on-demand
    fallback queue).

    Returns ``(ok, detail)``; ok is False when a TerminateJob failed or when the job name lookup
    failed (e.g. ListJobs throttled): probe jobs may still be running, so the entry stays open.
    """
    batch = client("batch")
    ids = list(entry.get("job_ids") or [])
    lookup_error = None
    if entry.get("job_queue") and entry.get("job_names"):
        try:
            ids += _job_name_matches(batch, [entry["job_queue"], entry.get("fallback_job_queue")],
                                     list(entry["job_names"]))
        except (ClientError, BotoCoreError) as exc:
            lookup_error = f"could not look the probe jobs up by name ({type(exc).__name__}: {exc})"
    terminated, failed = [], []
    ids = list(dict.fromkeys(ids))
    try:
        details = describe_jobs(batch, ids)  # 100 ids per call
    except (ClientError, BotoCoreError) as exc:
        details, failed = {}, [f"{', '.join(ids)}: {exc}"]
    for jid in ids:
        if jid not in details or details[jid].get("status") in TERMINAL_JOB_STATUSES:
            continue
        try:
            batch.terminate_job(jobId=jid, reason=CLEANUP_REASON)
            terminated.append(jid)
        except (ClientError, BotoCoreError) as exc:
            failed.append(f"{jid}: {exc}")
    entry["terminated"] = terminated
    problems = ([lookup_error] if lookup_error else []) + (
        ["could not terminate " + "; ".join(failed)] if failed else [])
    if problems:
        done = f"; terminated {', '.join(terminated)}" if terminated else ""
        return False, "; ".join(problems) + done
    return True, (f"terminated {', '.join(terminated)}" if terminated else "no probe job was still active")


def apply_entry(entry: dict, client: Callable[[str], object], *, timeout: float = 120.0,
                poll_interval: float = 2.0, clock: Callable[[], float] = time.monotonic,
                sleep: Callable[[float], None] = time.sleep) -> tuple:
    """Apply one undo entry; returns ``(ok, detail)``. Never raises for an AWS error (ok False)."""
    handlers = {statelib.UNDO_TERMINATE_JOBS: terminate_jobs, **methods.undo_handlers()}
    handler = handlers.get(entry.get("kind"))
    if handler is None:
        return False, f"no undo handler for {entry.get('kind')!r}"
    try:
        return handler(entry, client, timeout=timeout, poll_interval=poll_interval, clock=clock, sleep=sleep)
    except (ClientError, BotoCoreError) as exc:
        return False, f"{type(exc).__name__}: {exc}"


def rollback(
    env: str | None = None,
    *,
    state_path: Path | None = None,
    client_factory: Callable[[str], object] | None = None,
    keep_jobs: bool = False,
    timeout: float = 120.0,
    poll_interval: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Apply the state file's open undo entries in reverse order (stop the FIS experiment, delete the
    run's template, restore the Spot Fleet capacity, terminate the probe jobs unless ``keep_jobs``),
    marking each done as it succeeds; delete the state file when none is left. Idempotent. Reads
    version 1 and 2 state files.

    Returns ``{"status": "nothing-to-roll-back" | "rolled-back" | "failed", "state": dict | None,
    "results": [{"kind", "ok", "detail"}], "jobs_terminated": [job id, ...]}``. On ``failed`` the
    state file is kept (with the entries that did succeed marked done).

    Raises:
        RollbackEnvMismatch: ``env`` is given and differs from the state file's.
        spotkit.chaos.state.StateFileError: the state file is unreadable.
    """
    state_path = Path(state_path) if state_path else statelib.default_state_path()
    st = statelib.read_state(state_path)
    if st is None:
        return {"status": NOTHING, "state": None, "results": [], "jobs_terminated": []}
    if env and env != st.env:
        raise RollbackEnvMismatch(f"the state file is for env {st.env!r}, not {env!r}; pass --env {st.env}")
    if client_factory is None:
        from spotkit.aws import client as aws_client

        def client_factory(service, _env=st.env):
            return aws_client(service, env=_env)

    clients: dict = {}

    def client(service):
        if service not in clients:
            clients[service] = client_factory(service)
        return clients[service]

    writer = statelib.StateWriter(st, state_path)
    writer.written = True
    results, terminated = [], []
    for entry in reversed(st.open_entries()):
        if keep_jobs and entry["kind"] == statelib.UNDO_TERMINATE_JOBS:
            ok, detail = True, "kept (--keep-jobs)"
        else:
            ok, detail = apply_entry(entry, client, timeout=timeout, poll_interval=poll_interval, clock=clock,
                                     sleep=sleep)
        terminated += entry.get("terminated") or []
        results.append({"kind": entry["kind"], "ok": ok, "detail": detail})
        if ok:
            writer.update(entry, done=True)
    status = ROLLED_BACK if writer.clear_if_done() else FAILED
    return {"status": status, "state": st.to_dict(), "results": results, "jobs_terminated": terminated}
