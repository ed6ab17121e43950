"""The Spot capacity-cut experiment, in Chaos Toolkit terms.

* **Steady-state hypothesis** (read-only probes, checked before and after the method): the job
  queue is VALID and ENABLED, the compute environment is VALID and ENABLED (and, when proving the
  resubmission Lambda, the function is Active).
* **Method**: submit (or adopt) a probe job and wait for it to be RUNNING (probe); find the EC2
  instance and the Spot Fleet request behind it (probes); cut the request's target capacity to 0
  (action, undone by restoring the original target capacity); wait for the job's attempt to fail
  with statusReason ``Host EC2 (instance i-...) terminated.`` (probe); restore capacity (the undo,
  run as soon as the failure is seen); wait for the recovery: a new attempt of the same job
  (``native-retry``) or a new job tagged ``spotkit:previous-job-id`` (``resubmitted``), and for it to
  be RUNNING (probes).
* **Rollbacks**: restoring the target capacity and terminating the probe jobs run on every exit path
  (failure, exception, timeout, Ctrl-C, SIGTERM, SIGHUP); a state file written *before* the action
  lets ``spotkit chaos rollback`` finish the job if the process itself dies.

AWS behaviour relied on: AWS Batch reports a Spot host loss as statusReason
``Host EC2 (instance <id>) terminated.`` (https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html);
only ``maintain`` Spot Fleet requests can be modified
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySpotFleetRequest.html).
"""

from __future__ import annotations

import re
import secrets
import signal
import threading
import time
import traceback
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Union

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from spotkit.aws import JOB_STATUSES
from spotkit.chaos import fleet as fleetlib
from spotkit.chaos import state as statelib
from spotkit.chaos.report import write_report
from spotkit.core import lineage
from spotkit.core.lookup import find_successors

ACTIVE_JOB_STATUSES = JOB_STATUSES[:5]
TERMINAL_JOB_STATUSES = ("SUCCEEDED", "FAILED")

TAG_CHAOS_RUN = "spotkit:chaos-run"
TAG_LINEAGE = lineage.TAG_LINEAGE

HOST_TERMINATED_RE = re.compile(r"^Host EC2 \(instance (?P<instance>i-[0-9a-zA-Z]+)\) terminated\.?$")

RECOVERY_NATIVE = "native-retry"
RECOVERY_RESUBMITTED = "resubmitted"
CLEANUP_REASON = "spotkit chaos cleanup"

OutputsSource = Union[Mapping, Callable[[str], Mapping], None]


class ChaosUsageError(Exception):
    """The experiment refuses to start (prod without consent, leftover state, missing outputs)."""


class ExperimentFailed(Exception):
    """A probe's tolerance was not met; the message is the report's ``failure_reason``."""


class ExperimentInterrupted(BaseException):
    """SIGTERM/SIGHUP arrived; raised in the main thread so that every rollback still runs."""


@dataclass
class ExperimentConfig:
    """Inputs of ``spotkit chaos spot``. Durations are seconds."""

    env: str = "local"
    job_id: str | None = None  # adopt this active job instead of submitting a probe job
    native_retry: bool = False  # prove the job definition's retryStrategy instead of the Lambda
    timeout: float = 300.0  # per wait
    probe_seconds: int = 900  # how long the probe job sleeps
    poll_interval: float = 2.0
    keep_jobs: bool = False  # do not terminate the probe jobs at the end
    i_know_this_is_prod: bool = False


def host_terminated_instance(status_reason: str | None) -> str | None:
    """The instance id in a ``Host EC2 (instance i-...) terminated.`` statusReason, else None."""
    m = HOST_TERMINATED_RE.match((status_reason or "").strip())
    return m.group("instance") if m else None


def new_run_id() -> str:
    """``chaos-<UTC yyyymmddThhmmssZ>-<6 hex>``: sortable, unique, valid in a Batch job name and tag."""
    return f"chaos-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def probe_command(probe_seconds: int) -> list:
    """The probe job's container command."""
    return ["sh", "-c", f"echo spotkit chaos probe; sleep {int(probe_seconds)}"]


def _unwrap(value):
    # Accept both {"name": value} and terraform's {"name": {"value": value, ...}}.
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


@contextmanager
def _signals(handler: Callable[[int, object], None], sigint: bool = False):
    """Install ``handler`` for SIGTERM and SIGHUP (and SIGINT if asked) while in the block.

    Only possible in the main thread; elsewhere (e.g. a test runner thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    if sigint:
        sigs.append(signal.SIGINT)
    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


class SpotExperiment:
    """One run of the experiment. Build it, call :meth:`run`, read the returned report dict.

    Args:
        config: the inputs.
        outputs: the environment's Terraform outputs as a mapping, or a callable ``env -> mapping``;
            default :func:`spotkit.tf.outputs`. Keys used: ``job_queue_arn``/``job_queue_name``,
            ``job_definition_arn``/``job_definition_name``, ``compute_environment_arn``/
            ``compute_environment_name``, ``resubmit_function_name`` (optional).
        client_factory: ``service -> boto3 client``; default :func:`spotkit.aws.client` for ``config.env``.
        clock: monotonic seconds (injectable for tests); sleep: called between polls.
        console: where progress and the summary go.
        state_path: the chaos state file; default ``.spotkit/chaos-state.json``.
        reports_dir: where ``chaos-latest.json`` goes; default :data:`spotkit.paths.REPORTS_DIR`.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        *,
        outputs: OutputsSource = None,
        client_factory: Callable[[str], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        console: Console | None = None,
        state_path: Path | None = None,
        reports_dir: Path | None = None,
        run_id: str | None = None,
    ):
        self.config = config
        self._outputs_source = outputs
        if client_factory is None:
            from spotkit.aws import client as aws_client

            def client_factory(service, _env=config.env):
                return aws_client(service, env=_env)

        self._client_factory = client_factory
        self._clients: dict = {}
        self.clock = clock
        self.sleep = sleep
        self.console = console or Console(stderr=True)
        self.state_path = Path(state_path) if state_path else statelib.default_state_path()
        self.reports_dir = reports_dir
        self.run_id = run_id or new_run_id()
        self.recovery_mode = RECOVERY_NATIVE if config.native_retry else RECOVERY_RESUBMITTED
        self._t0 = clock()
        self._last_status: dict = {}
        self._created_jobs: list = []
        self._state: statelib.ChaosState | None = None
        self._cut = False
        self._restored = False
        self.report: dict = {}

    # ------------------------------------------------------------------ plumbing
    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._client_factory(service)
        return self._clients[service]

    def elapsed(self) -> float:
        return round(self.clock() - self._t0, 1)

    def log(self, message: str, style: str = "") -> None:
        self.report.setdefault("timeline", []).append({"t": self.elapsed(), "event": message})
        self.console.print(
            f"[dim]+{self.elapsed():7.1f} s[/dim] {message}", style=style or None, highlight=False
        )

    def _activity(self, kind: str, name: str, fn: Callable, *args, **kwargs):
        """Run a probe or action, journal it (Chaos Toolkit style) and return its result."""
        entry = {"type": kind, "name": name, "start": self.elapsed()}
        self.report.setdefault("method", []).append(entry)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            entry.update(status="failed", end=self.elapsed(), error=str(exc) or type(exc).__name__)
            raise
        entry.update(status="succeeded", end=self.elapsed())
        return result

    def _poll(self, what: str, check: Callable[[], object]):
        """Call ``check`` every poll interval until it returns non-None; ExperimentFailed on timeout."""
        deadline = self.clock() + self.config.timeout
        while True:
            result = check()
            if result is not None:
                return result
            if self.clock() >= deadline:
                raise ExperimentFailed(f"timed out after {self.config.timeout:g} s waiting for {what}")
            self.sleep(self.config.poll_interval)

    def _describe_job(self, job_id: str) -> dict:
        jobs = self.client("batch").describe_jobs(jobs=[job_id]).get("jobs", [])
        if not jobs:
            raise ExperimentFailed(f"job {job_id} not found")
        job = jobs[0]
        status = job.get("status")
        if self._last_status.get(job_id) != status:
            before = self._last_status.get(job_id)
            arrow = f"{before} -> {status}" if before else status
            reason = f" ({job['statusReason']})" if job.get("statusReason") and status == "FAILED" else ""
            self.log(f"job {job_id}: {arrow}{reason}")
            self._last_status[job_id] = status
        return job

    # ------------------------------------------------------------------ inputs
    def _guard(self) -> None:
        cfg = self.config
        if cfg.env == "prod" and not cfg.i_know_this_is_prod:
            raise ChaosUsageError(
                "refusing to cut Spot capacity in env 'prod': every instance of the Spot Fleet request is "
                "terminated, not only the probe job's. Re-run with --i-know-this-is-prod if that is intended."
            )
        existing = statelib.read_state(self.state_path)
        if existing is not None:
            raise ChaosUsageError(
                f"a previous experiment (run {existing.run_id}, env {existing.env}, phase {existing.phase}) left "
                f"{self.state_path}; run `spotkit chaos rollback` first"
            )
        if cfg.timeout <= 0 or cfg.poll_interval <= 0 or cfg.probe_seconds <= 0:
            raise ChaosUsageError("--timeout, --poll-interval and --probe-seconds must be positive")

    def _outputs(self) -> dict:
        src = self._outputs_source
        if src is None:
            from spotkit.tf import outputs as tf_outputs

            src = tf_outputs
        raw = src(self.config.env) if callable(src) else src
        out = {k: _unwrap(v) for k, v in dict(raw or {}).items()}
        resolved = {}
        for thing in ("job_queue", "job_definition", "compute_environment"):
            value = out.get(f"{thing}_arn") or out.get(f"{thing}_name")
            if not value:
                raise ChaosUsageError(
                    f"the outputs of env {self.config.env!r} have neither {thing}_arn nor {thing}_name; "
                    "is the environment applied (`spotkit tf apply`)?"
                )
            resolved[thing] = value
        resolved["resubmit_function_name"] = out.get("resubmit_function_name")
        return resolved

    # ------------------------------------------------------------------ steady state
    def steady_state(self, when: str) -> bool:
        """Run the hypothesis' probes; record them under ``steady_state[when]``; True when all hold."""
        batch = self.client("batch")
        results = []

        def valid_enabled(name, described, key):
            if not described:
                results.append(
                    {"name": name, "tolerance": "VALID/ENABLED", "value": "not found", "ok": False}
                )
                return
            d = described[0]
            value = f"{d.get('status')}/{d.get('state')}"
            results.append(
                {"name": name, "tolerance": "VALID/ENABLED", "value": value, "ok": value == "VALID/ENABLED"}
            )

        q = batch.describe_job_queues(jobQueues=[self.outputs["job_queue"]]).get("jobQueues", [])
        valid_enabled("job-queue-valid-and-enabled", q, "jobQueue")
        ce = batch.describe_compute_environments(computeEnvironments=[self.outputs["compute_environment"]])
        valid_enabled("compute-environment-valid-and-enabled", ce.get("computeEnvironments", []), "ce")
        fn = self.outputs.get("resubmit_function_name")
        if fn and not self.config.native_retry:
            try:
                conf = self.client("lambda").get_function(FunctionName=fn)["Configuration"]
                value = conf.get("State") or "Active"
            except ClientError as exc:
                value = exc.response.get("Error", {}).get("Code", "error")
            results.append(
                {
                    "name": "resubmit-function-active",
                    "tolerance": "Active",
                    "value": value,
                    "ok": value == "Active",
                }
            )
        self.report.setdefault("steady_state", {})[when] = results
        for r in results:
            mark = "[green]ok[/green]" if r["ok"] else "[red]DEVIATED[/red]"
            self.log(f"steady-state probe {r['name']}: {r['value']} {mark}")
        return all(r["ok"] for r in results)

    # ------------------------------------------------------------------ method
    def _submit_or_adopt(self) -> dict:
        batch = self.client("batch")
        if self.config.job_id:
            job = self._describe_job(self.config.job_id)
            if job.get("status") not in ACTIVE_JOB_STATUSES:
                raise ChaosUsageError(f"job {self.config.job_id} is {job.get('status')}; adopt an active job")
            if (job.get("arrayProperties") or {}).get("size") and ":" not in job["jobId"]:
                raise ChaosUsageError(
                    f"job {job['jobId']} is an array parent; pass one child (<job id>:<index>)"
                )
            self.log(
                f"adopted job {job['jobId']} ({job.get('jobName')}); it will not be terminated at the end"
            )
            return job
        kwargs = {
            "jobName": f"spotkit-chaos-probe-{self.run_id}",
            "jobQueue": self.outputs["job_queue"],
            "jobDefinition": self.outputs["job_definition"],
            "containerOverrides": {"command": probe_command(self.config.probe_seconds)},
            # A user tag and a timeout: AWS's FAILED event carries neither (its tags are a resourceArn
            # placeholder), so finding both on the resubmitted job proves they were read from the job.
            "tags": {TAG_CHAOS_RUN: self.run_id, "spotkit:chaos-owner": "spotkit"},
            "timeout": {"attemptDurationSeconds": max(3600, int(self.config.probe_seconds) * 4)},
        }
        if not self.config.native_retry:
            # One attempt only: the resubmission Lambda, not the job definition, must bring it back.
            kwargs["retryStrategy"] = {"attempts": 1}
        resp = batch.submit_job(**kwargs)
        self._created_jobs.append(resp["jobId"])
        self.log(f"submitted probe job {resp['jobId']} ({kwargs['jobName']}) to {kwargs['jobQueue']}")
        return self._describe_job(resp["jobId"])

    def _wait_running(self, job_id: str, what: str) -> dict:
        def check():
            job = self._describe_job(job_id)
            status = job.get("status")
            if status == "RUNNING":
                return job
            if status in TERMINAL_JOB_STATUSES:
                raise ExperimentFailed(
                    f"{what} {job_id} ended {status} before RUNNING: {job.get('statusReason') or 'no statusReason'}"
                )
            return None

        return self._poll(f"{what} {job_id} to be RUNNING", check)

    def _queue_compute_environments(self, queue: str) -> list:
        qs = self.client("batch").describe_job_queues(jobQueues=[queue]).get("jobQueues", [])
        order = sorted(
            (qs[0].get("computeEnvironmentOrder") or []) if qs else [], key=lambda c: c.get("order", 0)
        )
        return [c["computeEnvironment"] for c in order]

    def _locate(self, job: dict):
        batch, ecs, ec2 = self.client("batch"), self.client("ecs"), self.client("ec2")
        ces = [self.outputs["compute_environment"]] + self._queue_compute_environments(job["jobQueue"])
        try:
            instance_id = fleetlib.instance_of_job(batch, ecs, job, ces)
            info = fleetlib.fleet_of_instance(ec2, instance_id)
        except fleetlib.FleetLookupError as exc:
            raise ExperimentFailed(str(exc)) from None
        return instance_id, info

    def _check_failure(self, job_id: str, instance_id: str, attempts_before: int) -> str | None:
        job = self._describe_job(job_id)
        status = job.get("status")
        new_attempts = (job.get("attempts") or [])[attempts_before:]
        reasons = [a.get("statusReason") or "" for a in new_attempts]
        if status == "FAILED":
            reasons.append(job.get("statusReason") or "")
        for reason in reasons:
            hit = host_terminated_instance(reason)
            if hit == instance_id:
                if self.recovery_mode == RECOVERY_RESUBMITTED and status != "FAILED":
                    raise ExperimentFailed(
                        f"job {job_id} was retried by its retryStrategy ({job.get('retryStrategy')}), so the "
                        "resubmission Lambda was not exercised; use --native-retry or a job with attempts=1"
                    )
                return reason
            if hit:
                raise ExperimentFailed(f"job {job_id} lost host {hit}, not the cut instance {instance_id}")
        if reasons and any(reasons):
            raise ExperimentFailed(
                f"job {job_id} attempt failed for another reason: {reasons[-1]!r} "
                f"(expected 'Host EC2 (instance {instance_id}) terminated.')"
            )
        if status == "SUCCEEDED":
            raise ExperimentFailed(f"job {job_id} SUCCEEDED before its host went away; raise --probe-seconds")
        return None

    def _find_resubmission(self, original: dict) -> dict | None:
        """The job on the original's queue whose ``spotkit:lineage`` tag names the original as the job
        it replaces, or None: :func:`spotkit.core.lookup.find_successors`, the lookup the resubmit
        function itself uses for a submission whose response was lost."""
        found = find_successors(self.client("batch"), job_queue=original["jobQueue"], job_name=original["jobName"],
                                since_ms=int(original.get("createdAt") or 0), previous_job_ids={original["jobId"]})
        return found[0] if found else None

    def _check_resubmission(self, original: dict, new: dict) -> list:
        """Compare the resubmitted job with the original (DescribeJobs of both): lineage, every user tag,
        job definition, queue, command and timeout. Returns the failed checks' descriptions."""
        otags, ntags = original.get("tags") or {}, new.get("tags") or {}
        expected = lineage.of_job(otags, original["jobId"]).successor(original["jobId"])
        problems = []
        try:
            got = lineage.read(ntags, new["jobId"])
        except lineage.LineageError as exc:
            got, problems = None, [str(exc)]
        if got is None or (got.original_job_id, got.previous_job_id, got.count) != \
                (expected.original_job_id, expected.previous_job_id, expected.count):
            problems.append(f"tag {TAG_LINEAGE}={ntags.get(TAG_LINEAGE)!r}, expected {lineage.encode(expected)!r}")
        lost = {k: v for k, v in lineage.user_tags(otags).items() if ntags.get(k) != v}
        if lost:
            problems.append(f"user tags not carried over: {lost}")
        if "resourceArn" in ntags:
            problems.append("the event's resourceArn placeholder became a tag")
        for field_name, get in (
            ("jobDefinition", lambda j: j.get("jobDefinition")),
            ("jobQueue", lambda j: j.get("jobQueue")),
            ("container.command", lambda j: (j.get("container") or {}).get("command")),
            ("timeout", lambda j: j.get("timeout")),
        ):
            if get(original) != get(new):
                problems.append(f"{field_name} {get(new)!r} differs from the original's {get(original)!r}")
        self.report["resubmission_checks"] = {"expected_lineage": lineage.encode(expected), "problems": problems}
        return problems

    def _recover_native(self, job_id: str, attempts_before: int) -> None:
        def seen():
            job = self._describe_job(job_id)
            if len(job.get("attempts") or []) > attempts_before and job.get("status") in ACTIVE_JOB_STATUSES:
                return job
            if job.get("status") in TERMINAL_JOB_STATUSES:
                raise ExperimentFailed(
                    f"job {job_id} was not retried natively: it ended {job.get('status')} after "
                    f"{len(job.get('attempts') or [])} attempt(s) (retryStrategy {job.get('retryStrategy')})"
                )
            return None

        self._activity("probe", "wait-for-new-attempt", self._poll, f"a new attempt of job {job_id}", seen)
        self.report["seconds_to_recovery"] = round(self.clock() - self._cut_t, 1)
        self.report["recovered_job_id"] = job_id
        self.log(f"job {job_id} is being retried natively (attempt {attempts_before + 2})", "green")
        self._activity("probe", "wait-for-retry-running", self._wait_running, job_id, "retried job")

    def _recover_resubmitted(self, original: dict) -> None:
        new = self._activity(
            "probe",
            "wait-for-resubmitted-job",
            self._poll,
            f"a job whose {TAG_LINEAGE} tag says previous={original['jobId']} on {original['jobQueue']}",
            lambda: self._find_resubmission(original),
        )
        self.report["seconds_to_recovery"] = round(self.clock() - self._cut_t, 1)
        self.report["recovered_job_id"] = new["jobId"]
        if self._owns_original:
            self._created_jobs.append(new["jobId"])
        self.log(f"resubmitted job {new['jobId']} found (tags {new.get('tags')})", "green")
        problems = self._check_resubmission(original, new)
        if problems:
            raise ExperimentFailed("resubmitted job does not match the original: " + "; ".join(problems))
        self._activity(
            "probe", "wait-for-resubmitted-running", self._wait_running, new["jobId"], "resubmitted job"
        )

    def _save_state(self, **changes) -> None:
        for k, v in changes.items():
            setattr(self._state, k, v)
        self._state.created_job_ids = list(self._created_jobs)
        statelib.write_state(self._state, self.state_path)

    def _undo_capacity(self, why: str) -> None:
        """Rollback: restore the original target capacity; clear the state file when it holds."""
        st = self._state
        self.log(
            f"rollback ({why}): restoring TargetCapacity={st.original_target_capacity} on {st.fleet_request_id}"
        )
        res = fleetlib.restore_capacity(
            self.client("ec2"),
            st.fleet_request_id,
            st.original_target_capacity,
            timeout=min(self.config.timeout, 120.0),
            poll_interval=self.config.poll_interval,
            clock=self.clock,
            sleep=self.sleep,
        )
        self.report.setdefault("rollbacks", []).append(
            {
                "type": "action",
                "name": "restore-target-capacity",
                "why": why,
                "status": "succeeded" if res.restored else "failed",
                "detail": res.detail,
                "t": self.elapsed(),
            }
        )
        self._restored = res.restored
        self.report["capacity_restored"] = res.restored
        if res.restored:
            self._save_state(phase=statelib.PHASE_RESTORED)
            statelib.clear_state(self.state_path)
            self.log(f"capacity restored ({res.detail})", "green")
        else:
            self.log(f"capacity NOT restored: {res.detail}; run `spotkit chaos rollback`", "bold red")

    def _cleanup_jobs(self) -> None:
        if self.config.keep_jobs or not self._created_jobs:
            return
        batch = self.client("batch")
        ids = list(dict.fromkeys(self._created_jobs))
        if (
            self._cut
            and self.recovery_mode == RECOVERY_RESUBMITTED
            and not self.report.get("recovered_job_id")
        ):
            # The Lambda may have resubmitted the probe after we stopped waiting: look once.
            try:
                orig = batch.describe_jobs(jobs=[self.report["original_job_id"]])["jobs"][0]
                extra = self._find_resubmission(orig)
                if extra:
                    ids.append(extra["jobId"])
            except (ClientError, BotoCoreError, IndexError, KeyError):
                pass
        terminated = []
        for jid in ids:
            try:
                jobs = batch.describe_jobs(jobs=[jid]).get("jobs", [])
                if jobs and jobs[0].get("status") in TERMINAL_JOB_STATUSES:
                    continue
                batch.terminate_job(jobId=jid, reason=CLEANUP_REASON)
                terminated.append(jid)
            except (ClientError, BotoCoreError) as exc:
                self.log(f"could not terminate job {jid}: {exc}", "yellow")
        self.report.setdefault("rollbacks", []).append(
            {
                "type": "action",
                "name": "terminate-probe-jobs",
                "status": "succeeded",
                "jobs": terminated,
                "t": self.elapsed(),
            }
        )
        if terminated:
            self.log(f"terminated probe job(s) {', '.join(terminated)} ({CLEANUP_REASON!r})")

    def _method(self) -> None:
        cfg = self.config
        self.log(
            f"run {self.run_id}: Spot capacity cut in env {cfg.env!r}, proving {self.recovery_mode}", "bold"
        )
        if not self.steady_state("before"):
            raise ExperimentFailed("steady-state hypothesis not met before the method; nothing was changed")

        if cfg.job_id:
            job = self._activity("probe", "adopt-job", self._submit_or_adopt)
        else:  # an action; its undo is terminate-probe-jobs
            job = self._activity("action", "submit-probe-job", self._submit_or_adopt)
        self._owns_original = not cfg.job_id
        self.report["original_job_id"] = job["jobId"]
        job = self._activity("probe", "wait-for-running", self._wait_running, job["jobId"], "probe job")
        instance_id, info = self._activity("probe", "find-instance-and-spot-fleet", self._locate, job)
        members = fleetlib.fleet_instances(self.client("ec2"), info.fleet_request_id)
        self.report.update(
            instance_id=instance_id,
            fleet_request_id=info.fleet_request_id,
            original_target_capacity=info.target_capacity,
            fleet_found_by=info.found_by,
            blast_radius_instances=members,
        )
        self.log(
            f"job {job['jobId']} runs on {instance_id} of Spot Fleet request {info.fleet_request_id} "
            f"(TargetCapacity {info.target_capacity}, {len(members)} active instance(s), found by {info.found_by})"
        )

        attempts_before = len(job.get("attempts") or [])
        self._state = statelib.ChaosState(
            run_id=self.run_id,
            env=cfg.env,
            fleet_request_id=info.fleet_request_id,
            original_target_capacity=info.target_capacity,
            instance_id=instance_id,
            original_job_id=job["jobId"],
            started_at=self.report["started_at"],
        )
        self._save_state(phase=statelib.PHASE_PENDING)
        self._cut = True  # from here on, every exit path restores capacity
        self._activity(
            "action",
            "cut-spot-fleet-target-capacity",
            fleetlib.cut_capacity,
            self.client("ec2"),
            info.fleet_request_id,
        )
        self._cut_t = self.clock()
        self._save_state(phase=statelib.PHASE_CUT, cut_at=statelib.utcnow())
        self.log(
            f"action: TargetCapacity {info.target_capacity} -> 0 on {info.fleet_request_id}", "bold yellow"
        )

        reason = self._activity(
            "probe",
            "wait-for-host-terminated-failure",
            self._poll,
            f"job {job['jobId']} to fail with 'Host EC2 (instance {instance_id}) terminated.'",
            lambda: self._check_failure(job["jobId"], instance_id, attempts_before),
        )
        self.report["seconds_to_failure"] = round(self.clock() - self._cut_t, 1)
        self.report["observed_status_reason"] = reason
        self.log(
            f"observed statusReason {reason!r} {self.report['seconds_to_failure']} s after the cut", "green"
        )

        self._undo_capacity("failure observed")

        if self.recovery_mode == RECOVERY_NATIVE:
            self._recover_native(job["jobId"], attempts_before)
        else:
            self._recover_resubmitted(self._describe_job(job["jobId"]))
        self.report["seconds_to_running"] = round(self.clock() - self._cut_t, 1)
        self.log(f"recovered job RUNNING {self.report['seconds_to_running']} s after the cut", "green")

        if not self._restored:
            raise ExperimentFailed("Spot Fleet target capacity was not restored")
        if not self.steady_state("after"):
            raise ExperimentFailed("steady-state hypothesis not met after the method")

    # ------------------------------------------------------------------ run
    def run(self) -> dict:
        """Run the experiment and write the report; returns the report dict (see module docs).

        Raises:
            ChaosUsageError: before anything is changed (prod without consent, leftover state file,
                missing outputs, bad arguments). No report is written then.
        Never raises for an experiment that fails: ``report["passed"]`` is False with
        ``failure_reason``; ``report["interrupted"]`` names the signal when one stopped the run.
        """
        cfg = self.config
        self.report = {
            "passed": False,
            "recovery": self.recovery_mode,
            "env": cfg.env,
            "run_id": self.run_id,
            "started_at": statelib.utcnow(),
            "finished_at": None,
            "original_job_id": None,
            "recovered_job_id": None,
            "instance_id": None,
            "fleet_request_id": None,
            "original_target_capacity": None,
            "capacity_restored": None,
            "seconds_to_failure": None,
            "seconds_to_recovery": None,
            "seconds_to_running": None,
            "failure_reason": None,
            "steady_state": {},
            "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        }
        self._guard()
        try:
            self.outputs = self._outputs()
            self.client("batch")  # unknown environment, bad settings: refuse before anything runs
        except ChaosUsageError:
            raise
        except Exception as exc:
            raise ChaosUsageError(f"env {cfg.env!r} is not usable: {type(exc).__name__}: {exc}") from exc
        self._owns_original = False
        self._skip_report = False

        def on_signal(signum, frame):
            raise ExperimentInterrupted(signal.Signals(signum).name)

        try:
            with _signals(on_signal):
                self._method()
            self.report["passed"] = True
        except ChaosUsageError as exc:
            if not self._cut and not self._created_jobs:
                self._skip_report = True  # refused before changing anything
                raise
            self.report["failure_reason"] = str(exc)
        except ExperimentFailed as exc:
            self.report["failure_reason"] = str(exc)
        except (KeyboardInterrupt, ExperimentInterrupted) as exc:
            name = str(exc) or "SIGINT"
            self.report.update(failure_reason=f"interrupted by {name}", interrupted=name)
        except (ClientError, BotoCoreError) as exc:
            self.report["failure_reason"] = f"AWS API error: {exc}"
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the fleet at zero
            self.report["failure_reason"] = f"unexpected {type(exc).__name__}: {exc}"
            self.report["traceback"] = traceback.format_exc()
        finally:
            self._finish()
        return self.report

    def _finish(self) -> None:
        deferred = []
        # Rollbacks must not be cut short by a second Ctrl-C: signals are recorded, not raised.
        with _signals(lambda signum, frame: deferred.append(signal.Signals(signum).name), sigint=True):
            try:
                if self._cut and not self._restored:
                    try:
                        self._undo_capacity(self.report.get("failure_reason") or "exit")
                    except Exception as exc:  # noqa: BLE001 - keep the state file for `spotkit chaos rollback`
                        self.report["capacity_restored"] = False
                        self.log(f"rollback failed: {exc}; run `spotkit chaos rollback`", "bold red")
                try:
                    self._cleanup_jobs()
                except Exception as exc:  # noqa: BLE001 - best effort, after the capacity undo
                    self.log(f"job cleanup failed: {exc}", "yellow")
            finally:
                if self.report.get("capacity_restored") is False:
                    self.report["passed"] = False
                    self.report["failure_reason"] = (
                        self.report.get("failure_reason") or "capacity not restored"
                    )
                self.report["finished_at"] = statelib.utcnow()
                if deferred:
                    self.report["deferred_signals"] = deferred
                if not self._skip_report:
                    self.report["report_path"] = str(write_report(self.report, self.reports_dir))
