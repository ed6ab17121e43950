"""The job engine: AWS Batch job states, placement, real processes, host loss and native retry.

What AWS does (AWS Batch User Guide, "Job states" (job_states.html), "Automated job retries"
(job_retries.html), "Job timeouts" (job_timeouts.html), "Array jobs" (array_jobs.html),
"Job environment variables" (job_env_vars.html), "Job state change events"
(batch_job_events.html)):

* SUBMITTED → PENDING (waiting on dependencies) → RUNNABLE (waiting for capacity) → STARTING
  (placed on a container instance) → RUNNING → SUCCEEDED | FAILED. A retried attempt goes back
  to RUNNABLE. Every change after submission emits a "Batch Job State Change" event.
* A RUNNABLE job is placed on an instance with free vCPUs and memory of an ENABLED compute
  environment of its (ENABLED) job queue, in the queue's compute environment order; queues are
  served in priority order, jobs first-in first-out.
* The command (after ``Ref::name`` parameter substitution) runs with the job's environment plus
  AWS_BATCH_JOB_ID, AWS_BATCH_JOB_ATTEMPT, AWS_BATCH_JQ_NAME, AWS_BATCH_CE_NAME and, in array
  children only, AWS_BATCH_JOB_ARRAY_INDEX (a bare integer) and AWS_BATCH_JOB_ARRAY_SIZE (the
  parent's size) (job_env_vars.html).
* Exit 0 → SUCCEEDED; otherwise FAILED with statusReason ``Essential container in task exited``
  and the exit code on the container; an attempt over ``attemptDurationSeconds`` (at least 60,
  API_JobTimeout) ends with ``Job attempt duration exceeded timeout``; an instance that goes away
  ends its attempts with ``Host EC2 (instance i-…) terminated.``. Native retry then applies
  (:mod:`.retry`).
* A timed-out or terminated (TerminateJob) attempt is stopped the way ECS stops a task (Amazon ECS
  API Reference, "StopTask"): SIGTERM, then SIGKILL once the stop timeout (default 30 s,
  ECS_CONTAINER_STOP_TIMEOUT) has passed; the attempt ends when the process is gone. That Batch
  stops timed-out jobs through StopTask is assumed, not verified. A lost host kills at once.
* Events: the detail is :func:`~spotkit.emulator.patches.event_detail` (``tags`` =
  ``{"resourceArn": …}``, like the captured AWS event), not the DescribeJobs JobDetail.
* An image that cannot be pulled (its registry host is under the reserved ``.invalid`` domain,
  RFC 6761) fails the attempt without RUNNING: statusReason ``Task failed to start``, the container's
  ``reason`` ``CannotPullContainerError: ...`` (the shape of nextflow-io/nextflow#5099; the message
  text after the prefix is assumed, not verified).
* An array parent is PENDING while its children run; it SUCCEEDS when every child succeeded and
  FAILS (``Array Child Job failed``) once any child failed and the rest are done. A job whose
  dependency failed FAILS with ``Dependent Job failed``.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, List, Optional

from spotkit.emulator import retry
from spotkit.emulator.capacity import Capacity, Host
from spotkit.emulator.patches import event_detail, job_environment, job_extras, job_resources

log = logging.getLogger("spotkit.emulator.jobs")

ACTIVE = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
HOST_LOST = "Host EC2 (instance {}) terminated."
EXITED = "Essential container in task exited"
TIMED_OUT = "Job attempt duration exceeded timeout"
DEPENDENCY_FAILED = "Dependent Job failed"
CHILD_FAILED = "Array Child Job failed"
#: An attempt whose image cannot be pulled: Batch's statusReason, and the container reason (the ECS
#: agent's CannotPullContainerError; the text after its prefix is assumed, not verified).
START_FAILED = "Task failed to start"
PULL_FAILED = ("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
               "{image}: failed to do request: dial tcp: lookup {host}: no such host")


def unpullable_host(image: str) -> Optional[str]:
    """The registry host of ``image`` when it is under the reserved ``.invalid`` top-level domain, which
    no resolver answers (RFC 6761, section 6.4), so no host -- on AWS or here -- can pull it; else None."""
    first = (image or "").split("/", 1)[0]
    host = first.split(":", 1)[0].lower()
    return host if "/" in (image or "") and (host == "invalid" or host.endswith(".invalid")) else None


def _exit_code(code: Optional[int]) -> Optional[int]:
    """A process return code as a container exit code: killed by signal n → 128 + n (Docker's rule)."""
    if code is not None and code < 0:
        return 128 - code
    return code


def substitute_parameters(command: List[str], parameters: Dict[str, str]) -> List[str]:
    """Replace every ``Ref::name`` in each command element with ``parameters[name]``."""
    if not parameters:
        return list(command)
    pattern = re.compile(r"Ref::(" + "|".join(re.escape(k) for k in sorted(parameters, key=len, reverse=True)) + r")")
    return [pattern.sub(lambda m: str(parameters[m.group(1)]), part) for part in command]


class Running:
    """A running attempt: the process (or, in ``hold`` mode, none) and its bookkeeping.

    ``deadline`` (monotonic seconds) is when the attempt times out; once a stop has begun,
    ``stop_reason`` is the statusReason the attempt will end with and ``kill_at`` when SIGKILL follows
    the SIGTERM."""

    def __init__(self, proc: Optional[subprocess.Popen], host: Host, deadline: Optional[float],
                 log_path: Optional[Path]):
        self.proc, self.host, self.deadline, self.log_path = proc, host, deadline, log_path
        self.stop_reason: Optional[str] = None
        self.kill_at: Optional[float] = None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the attempt's process group (nothing if it is gone or there is none)."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)


class JobEngine:
    """Drives every job of one Batch backend; call :meth:`tick` periodically (one thread only).

    Args:
        batch: moto's BatchBackend for the account/region.
        capacity: the :class:`~spotkit.emulator.capacity.Capacity` for the same backend.
        publish: called with a DescribeJobs JobDetail after every status change.
        job_env: extra environment for job processes (e.g. AWS_ENDPOINT_URL of the emulator).
        work_dir: where attempt logs and working folders go.
        dwell_seconds: minimum time a job spends in SUBMITTED, PENDING and STARTING (seconds),
            so every state is visible to pollers and produces its event.
        scale_delay_seconds: how long a RUNNABLE job waits before its demand scales capacity.
        execution: ``process`` (run the command) or ``hold`` (stay RUNNING without a process,
            until terminated or the host goes away; for scale benchmarks only).
        stop_timeout_seconds: SIGTERM → SIGKILL grace when an attempt is stopped (ECS default 30).
        time_scale: TEST-STAGE clock knob: attempt deadlines (``attemptDurationSeconds``) and the stop
            grace are multiplied by it (``0.02``: a 60 s timeout fires after 1.2 s), so tests use valid
            timeouts without waiting for them. 1.0 (default) is AWS's clock.
    """

    def __init__(self, batch, capacity: Capacity, publish: Callable[[dict], None], job_env: Dict[str, str],
                 work_dir: Path, dwell_seconds: float = 0.5, scale_delay_seconds: float = 1.0,
                 execution: str = "process", stop_timeout_seconds: float = 30.0, time_scale: float = 1.0):
        self.batch, self.capacity, self.publish = batch, capacity, publish
        self.job_env = job_env
        self.work_dir = work_dir
        self.dwell = dwell_seconds
        self.scale_delay = scale_delay_seconds
        self.execution = execution
        self.stop_grace = float(stop_timeout_seconds) * float(time_scale)
        self.time_scale = float(time_scale)
        self.running: Dict[str, Running] = {}
        self.since: Dict[str, float] = {}

    # ------------------------------------------------------------ transitions
    def _set(self, job, status: str, reason: Optional[str] = None) -> None:
        job.status = status
        if reason is not None:
            job.job_stopped_reason = reason
        self.since[job.job_id] = time.monotonic()
        if status in ("SUCCEEDED", "FAILED"):
            job.job_stopped = True
            job.job_stopped_at = datetime.now()
        log.info("job %s (%s) -> %s%s", job.job_id, job.job_name, status, f": {reason}" if reason else "")
        try:
            self.publish(event_detail(job))
        except Exception:  # never let an event problem stall the scheduler
            log.exception("could not publish the state change of job %s", job.job_id)

    def _dwelt(self, job, now: float) -> bool:
        return now - self.since.setdefault(job.job_id, now) >= self.dwell

    def _fail(self, job, reason: str) -> None:
        self._set(job, "FAILED", reason)

    # --------------------------------------------------------------- attempts
    def _start(self, job, host: Host, now: float) -> None:
        sk = job_extras(job)
        attempt_no = len(job.attempts) + 1
        task_id = f"{job.job_id.replace(':', '-')}-{attempt_no}"
        ce = self.batch.get_compute_environment(host.ce_arn)
        sk["containerInstanceArn"] = host.container_instance_arn
        ecs_task_id = uuid.uuid4().hex  # 32 hex digits, as ECS task ids are (tests/fidelity/aws/ captures)
        sk["taskArn"] = f"arn:aws:ecs:{self.batch.region_name}:{self.batch.account_id}:task/{ce.ecs_name}/{ecs_task_id}"
        sk["logStreamName"] = f"{job.job_definition.name}/default/{ecs_task_id}"
        sk["exitCode"] = sk["reason"] = None
        job.job_started_at = datetime.now()
        job.job_stopped = False
        job.job_stopped_reason = None
        env = dict(self.job_env)
        env.update({e["name"]: e["value"] for e in job_environment(job)})
        env.update({
            "AWS_BATCH_JOB_ID": job.job_id,
            "AWS_BATCH_JOB_ATTEMPT": str(attempt_no),
            "AWS_BATCH_JQ_NAME": job.job_queue.name,
            "AWS_BATCH_CE_NAME": ce.name,
        })
        if "index" in (job.array_properties or {}):
            env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.array_properties["index"])
            parent = self.batch.get_job_by_id(job.job_id.rsplit(":", 1)[0])
            if parent is not None and parent._child_jobs:
                env["AWS_BATCH_JOB_ARRAY_SIZE"] = str(len(parent._child_jobs))
        timeout = (job.timeout or job.job_definition.timeout or {}).get("attemptDurationSeconds")
        deadline = now + float(timeout) * self.time_scale if timeout else None
        proc = log_path = None
        image = (job.job_definition.container_properties or {}).get("image") or ""
        bad_host = unpullable_host(image)
        if bad_host:  # the container never starts: no RUNNING, the attempt fails at once
            reason = PULL_FAILED.format(image=image, host=bad_host)
            log.info("job %s: image %s cannot be pulled", job.job_id, image)
            sk["reason"] = reason
            job.attempts.append(self._attempt_record(job, START_FAILED))
            self._release(job, host)
            self._after_attempt(job, START_FAILED, None, reason)
            return
        if self.execution == "process":
            command = substitute_parameters(
                list(job.container_overrides.get("command") or
                     (job.job_definition.container_properties or {}).get("command") or []),
                job.parameters or {})
            folder = self.work_dir / task_id
            folder.mkdir(parents=True, exist_ok=True)
            log_path = folder / "output.log"
            env.setdefault("HOME", str(folder))
            try:
                with open(log_path, "wb") as out:
                    proc = subprocess.Popen(command or ["true"], cwd=folder, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
            except OSError as exc:  # like a container that cannot start its entrypoint
                log.warning("job %s: cannot start %s: %s", job.job_id, command, exc)
                job.attempts.append(self._attempt_record(job, f"CannotStartContainerError: {exc}"))
                self._release(job, host)
                self._after_attempt(job, f"CannotStartContainerError: {exc}", None, None)
                return
        self.running[job.job_id] = Running(proc, host, deadline, log_path)
        self._set(job, "RUNNING")

    def _attempt_record(self, job, status_reason: str) -> dict:
        sk = job_extras(job)
        container = {k: sk[k] for k in ("containerInstanceArn", "taskArn", "exitCode", "reason", "logStreamName")
                     if sk.get(k) is not None}
        container["networkInterfaces"] = []
        return {
            "container": container,
            "startedAt": int(job.job_started_at.timestamp() * 1000),
            "stoppedAt": int(time.time() * 1000),
            "statusReason": status_reason,
        }

    def _release(self, job, host: Host) -> None:
        vcpus, memory = job_resources(job)
        host.used_vcpus = max(0.0, host.used_vcpus - vcpus)
        host.used_memory_mib = max(0, host.used_memory_mib - memory)
        host.jobs.discard(job.job_id)
        if not host.jobs:
            host.idle_since = time.monotonic()

    def _end_attempt(self, job, status_reason: str, exit_code: Optional[int], container_reason: Optional[str],
                     retryable: bool = True) -> None:
        run = self.running.pop(job.job_id, None)
        if run is not None:
            run.kill()
            self._release(job, run.host)
        sk = job_extras(job)
        sk["exitCode"], sk["reason"] = exit_code, container_reason
        job.attempts.append(self._attempt_record(job, status_reason))
        self._after_attempt(job, status_reason, exit_code, container_reason, retryable)

    def _after_attempt(self, job, status_reason: str, exit_code: Optional[int], container_reason: Optional[str],
                       retryable: bool = True) -> None:
        if exit_code == 0 and status_reason == EXITED:
            self._set(job, "SUCCEEDED", status_reason)
            return
        if retryable and retry.should_retry(job_extras(job)["retryStrategy"], len(job.attempts), status_reason,
                                            container_reason, exit_code):
            log.info("job %s: attempt %d failed (%s); retrying", job.job_id, len(job.attempts), status_reason)
            self._set(job, "RUNNABLE", status_reason)
            return
        self._fail(job, status_reason)

    # ------------------------------------------------------------------- tick
    def host_lost(self, host: Host) -> None:
        """End every attempt on ``host`` with AWS's host-termination reason."""
        for job_id in list(host.jobs):
            job = self.batch.get_job_by_id(job_id)
            if job is None:
                continue
            reason = HOST_LOST.format(host.instance_id)
            if job.job_id in self.running:
                self._end_attempt(job, reason, None, None)
            else:  # STARTING: placed, no process yet
                job.attempts.append(self._attempt_record(job, reason))
                self._release(job, host)
                self._after_attempt(job, reason, None, None)

    def _jobs(self) -> List:
        return list(self.batch._jobs.values())

    def tick(self) -> None:
        """One scheduling round: host loss, running attempts, state advances, placement, scaling."""
        now = time.monotonic()
        for host in self.capacity.reap():
            self.host_lost(host)
        jobs = self._jobs()
        by_id = {j.job_id: j for j in jobs}
        demand: Dict[str, float] = {}
        queues = sorted(self.batch._job_queues.values(), key=lambda q: -int(q.priority or 0))
        queue_rank = {q.arn: i for i, q in enumerate(queues)}
        runnable = []
        for job in jobs:
            status = job.status
            if job._child_jobs:
                self._advance_parent(job)
                continue
            if status not in ACTIVE:
                continue
            if job.stop and status != "RUNNING" and status != "STARTING":
                # CancelJob / TerminateJob before the job started
                self._fail(job, job.job_stopped_reason or "Cancelled by user")
                continue
            if status == "SUBMITTED":
                if self._dwelt(job, now):
                    self._set(job, "PENDING")
            elif status == "PENDING":
                if not self._dwelt(job, now):
                    continue
                deps = [by_id.get(d.get("jobId")) for d in (job.depends_on or [])]
                if any(d is not None and d.status == "FAILED" for d in deps):
                    self._fail(job, DEPENDENCY_FAILED)
                elif all(d is None or d.status == "SUCCEEDED" for d in deps):
                    self._set(job, "RUNNABLE")
            elif status == "RUNNABLE":
                runnable.append(job)
            elif status == "STARTING":
                host = self.capacity.hosts.get(job_extras(job).get("_host") or "")
                if host is None:
                    continue  # host_lost() handles it
                if job.stop:
                    job.attempts.append(self._attempt_record(job, job.job_stopped_reason or "Terminated"))
                    self._release(job, host)
                    self._fail(job, job.job_stopped_reason or "Terminated")
                elif self._dwelt(job, now):
                    self._start(job, host, now)
            elif status == "RUNNING":
                self._check_running(job, now)
        # placement: queue priority, then submission order
        runnable.sort(key=lambda j: (queue_rank.get(j.job_queue.arn, 99), j.job_created_at))
        for job in runnable:
            if not self._place(job, now):
                waited = now - self.since.setdefault(job.job_id, now)
                if waited >= self.scale_delay:
                    ce_arn = self._demand_target(job)
                    if ce_arn:
                        demand[ce_arn] = demand.get(ce_arn, 0.0) + job_resources(job)[0]
        for host in self.capacity.hosts.values():
            demand[host.ce_arn] = demand.get(host.ce_arn, 0.0) + host.used_vcpus
        self.capacity.scale(demand, now)

    def _queue_ces(self, job) -> List:
        queue = job.job_queue
        if queue.state != "ENABLED":
            return []
        order = sorted(queue.env_order_json, key=lambda e: int(e["order"]))
        ces = [self.batch.get_compute_environment(e["computeEnvironment"]) for e in order]
        return [ce for ce in ces if ce is not None and ce.state == "ENABLED"]

    def _place(self, job, now: float) -> bool:
        vcpus, memory = job_resources(job)
        for ce in self._queue_ces(job):
            for host in self.capacity.hosts_of(ce.arn):
                if host.ready_at <= now and host.fits(vcpus, memory):
                    host.used_vcpus += vcpus
                    host.used_memory_mib += memory
                    host.jobs.add(job.job_id)
                    job_extras(job)["_host"] = host.instance_id
                    self._set(job, "STARTING")
                    return True
        return False

    def _demand_target(self, job) -> Optional[str]:
        """The first CE of the job's queue that could still grow to hold the job."""
        vcpus, _ = job_resources(job)
        for ce in self._queue_ces(job):
            if not Capacity.managed(ce):
                continue
            cr = ce.compute_resources or {}
            have = sum(h.vcpus for h in self.capacity.hosts_of(ce.arn))
            if have + vcpus <= float(cr.get("maxvCpus") or 0) or have == 0:
                return ce.arn
        return None

    def _check_running(self, job, now: float) -> None:
        run = self.running.get(job.job_id)
        if run is None:  # the emulator restarted under the job, or a host already handled it
            return
        if run.stop_reason is None:
            if job.stop:
                self._begin_stop(run, job.job_stopped_reason or "Terminated", now)
            elif run.deadline is not None and now >= run.deadline:
                self._begin_stop(run, TIMED_OUT, now)
        code = run.proc.poll() if run.proc is not None else None
        if run.stop_reason is not None:
            if run.proc is not None and code is None:
                if now < run.kill_at:
                    return  # SIGTERM sent; the process has until kill_at
                run.signal(signal.SIGKILL)
                code = run.proc.wait(timeout=10)
            self._end_attempt(job, run.stop_reason, _exit_code(code), None, retryable=False)
            return
        if code is not None:
            self._end_attempt(job, EXITED, _exit_code(code), None)

    def _begin_stop(self, run: Running, reason: str, now: float) -> None:
        """Stop an attempt like ECS StopTask: SIGTERM now, SIGKILL after the grace."""
        run.stop_reason = reason
        run.kill_at = now + self.stop_grace
        run.signal(signal.SIGTERM)

    def _advance_parent(self, parent) -> None:
        children = parent._child_jobs
        statuses = [c.status for c in children]
        if parent.status in ("SUCCEEDED", "FAILED"):
            return
        if parent.status == "SUBMITTED":
            self._set(parent, "PENDING")
        elif all(s == "SUCCEEDED" for s in statuses):
            self._set(parent, "SUCCEEDED")
        elif all(s in ("SUCCEEDED", "FAILED") for s in statuses):
            self._set(parent, "FAILED", CHILD_FAILED)

    def shutdown(self) -> None:
        """Kill every job process (the emulator is stopping)."""
        for run in list(self.running.values()):
            run.kill()
