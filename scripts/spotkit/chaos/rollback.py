"""``spotkit chaos rollback``: undo what a crashed experiment left behind, from its state file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from botocore.exceptions import BotoCoreError, ClientError

from spotkit.chaos import fleet as fleetlib
from spotkit.chaos import state as statelib

NOTHING = "nothing-to-roll-back"
RESTORED = "restored"
FLEET_GONE = "fleet-gone"
FAILED = "failed"


class RollbackEnvMismatch(Exception):
    """``--env`` names another environment than the one the state file was written for."""


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
    """Restore the Spot Fleet target capacity recorded in the state file, terminate the probe jobs
    the experiment created (unless ``keep_jobs``), and delete the state file. Idempotent.

    Returns ``{"status": "nothing-to-roll-back" | "restored" | "fleet-gone" | "failed", "detail": str,
    "state": dict | None, "jobs_terminated": [job id, ...]}``. On ``failed`` the state file is kept.

    Raises:
        RollbackEnvMismatch: ``env`` is given and differs from the state file's.
        spotkit.chaos.state.StateFileError: the state file is unreadable.
    """
    state_path = Path(state_path) if state_path else statelib.default_state_path()
    st = statelib.read_state(state_path)
    if st is None:
        return {"status": NOTHING, "detail": f"no {state_path}", "state": None, "jobs_terminated": []}
    if env and env != st.env:
        raise RollbackEnvMismatch(f"the state file is for env {st.env!r}, not {env!r}; pass --env {st.env}")
    if client_factory is None:
        from spotkit.aws import client as aws_client

        def client_factory(service, _env=st.env):
            return aws_client(service, env=_env)

    res = fleetlib.restore_capacity(
        client_factory("ec2"),
        st.fleet_request_id,
        st.original_target_capacity,
        timeout=timeout,
        poll_interval=poll_interval,
        clock=clock,
        sleep=sleep,
    )
    if res.restored:
        status = RESTORED
    elif res.detail == "fleet request gone":
        status = FLEET_GONE
    else:
        return {"status": FAILED, "detail": res.detail, "state": st.to_dict(), "jobs_terminated": []}

    terminated = []
    if not keep_jobs and st.created_job_ids:
        batch = client_factory("batch")
        for jid in st.created_job_ids:
            try:
                jobs = batch.describe_jobs(jobs=[jid]).get("jobs", [])
                if jobs and jobs[0].get("status") not in ("SUCCEEDED", "FAILED"):
                    batch.terminate_job(jobId=jid, reason="spotkit chaos rollback")
                    terminated.append(jid)
            except (ClientError, BotoCoreError):
                pass  # best effort: capacity is what matters
    statelib.clear_state(state_path)
    return {"status": status, "detail": res.detail, "state": st.to_dict(), "jobs_terminated": terminated}
