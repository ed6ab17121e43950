"""The runner of ``spotkit chaos spot``: a Chaos Toolkit-shaped experiment.

* **Steady-state hypothesis** (probes before and after): the job queue and the compute environment
  are VALID/ENABLED and, when proving the resubmission function, it is Active.
* **Method**: submit the probe workload (``--jobs`` plain jobs, ``--array-size`` array job) or adopt
  ``--job-id``; wait until it is RUNNING; choose the target instances (``--instances``/``--percent``
  of the compute environment's opted-in running instances, those under the probe jobs first);
  inject with the chosen method (:mod:`spotkit.chaos.methods`); watch every job that was RUNNING on
  the targets, ours or not, fail ``Host EC2 (instance i-…) terminated.`` and come back exactly once,
  resubmitted or natively retried, and reach RUNNING (:class:`spotkit.chaos.verify.RecoveryTracker`).
* **Rollbacks**: every undo entry of the state file (written before each action) is applied in
  reverse on every exit path (failure, exception, timeout, Ctrl-C, SIGTERM, SIGHUP); a run killed
  outright is rolled back by ``spotkit chaos rollback``. For methods that FIS does not guard, the
  runner watches the stop-condition alarm between polls and stops the run when it is in ALARM.

``--dry-run`` prints the plan and makes only Describe*/List*/Get* calls: no job, no state file, no
report. The report (:mod:`spotkit.chaos.report`) is drawn from the journal (:mod:`spotkit.chaos.journal`).

AWS behaviour relied on: a Spot host loss ends the attempt with statusReason ``Host EC2 (instance
<id>) terminated.`` (https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html).
"""

from __future__ import annotations

import math
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from spotkit.chaos import follow, guard, methods, probes, workload
from spotkit.chaos import state as statelib
from spotkit.chaos.config import (
    OVERRIDES,
    ExperimentConfig,
    OutputsSource,
    new_run_id,
    readonly_outputs,
    resolve_outputs,
)
from spotkit.chaos.errors import ChaosUsageError, ExperimentFailed, ExperimentInterrupted
from spotkit.chaos.journal import Journal
from spotkit.chaos.report import write_report
from spotkit.chaos.rollback import apply_entry
from spotkit.core.lookup import describe_jobs
from spotkit.envs import load_environment, locked_aws_version

RECOVERY_NATIVE = "native-retry"
RECOVERY_RESUBMITTED = "resubmitted"
ACTIVE_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


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


def emulator_time_scale(endpoint: str) -> float:
    """The emulator's FIS time factor (``spotkit.emulator.info(endpoint)["fis_time_scale"]``), 1.0 when
    the endpoint is not a spotkit emulator or does not say."""
    from spotkit import emulator

    info_fn = getattr(emulator, "info", None)
    info = info_fn(endpoint) if info_fn else None
    return float((info or {}).get("fis_time_scale") or 1.0)


class Runner:
    """One run of ``spotkit chaos spot``. Build it, call :meth:`run`, read the returned report dict.

    Args:
        config: the inputs.
        outputs: the environment's Terraform outputs as a mapping, or ``env -> mapping``; default
            :func:`spotkit.tf.outputs`. See :class:`spotkit.chaos.config.Outputs` for the keys read.
        client_factory: ``service -> boto3 client``; default :func:`spotkit.aws.client` for ``config.env``.
        time_scale: the FIS time factor; default: ``spotkit.emulator.info`` of the emulator endpoint
            when the env is the emulator (and no client_factory was injected), else 1.0.
        clock: monotonic seconds (injectable for tests); sleep: called between polls.
        console: where progress and the summary go.
        state_path: the chaos state file; default ``.spotkit/chaos-state.json``.
        reports_dir: where ``chaos-latest.json`` goes; default :data:`spotkit.paths.REPORTS_DIR`.
    """

    def __init__(self, config: ExperimentConfig, *, outputs: OutputsSource = None,
                 client_factory: Callable[[str], object] | None = None, time_scale: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 console: Console | None = None, state_path: Path | None = None,
                 reports_dir: Path | None = None, run_id: str | None = None):
        self.config = config
        self._outputs_source = outputs
        self._time_scale = time_scale
        self._injected_factory = client_factory is not None
        if client_factory is None:
            from spotkit.aws import client as aws_client

            def client_factory(service, _env=config.env):
                return aws_client(service, env=_env)

        self._client_factory = client_factory
        self._clients: dict = {}
        self.clock, self.sleep = clock, sleep
        self.console = console or Console(stderr=True)
        self.state_path = Path(state_path) if state_path else statelib.default_state_path()
        self.reports_dir = reports_dir
        self.run_id = run_id or new_run_id()
        self.recovery_mode = RECOVERY_NATIVE if config.native_retry else RECOVERY_RESUBMITTED
        self.journal = Journal(clock, self.console)
        self.report: dict = {}
        self.writer: statelib.StateWriter | None = None
        self.ctx: methods.MethodContext | None = None
        self.method = None
        self.tracker = None
        self._injected = False
        self._probe_ids: list = []
        self._owns_probes = False
        self._last_status: dict = {}
        self.followed = None  # spotkit.chaos.follow.FollowedJob with --job-id

    # ------------------------------------------------------------------ plumbing
    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._client_factory(service)
        return self._clients[service]

    def log(self, message: str, style: str = "") -> None:
        self.journal.log(message, style)

    def _poll(self, what: str, check: Callable[[], object], timeout: float | None = None):
        """Call ``check`` every poll interval until it returns non-None; ExperimentFailed on timeout."""
        timeout = self.config.timeout if timeout is None else timeout
        deadline = self.clock() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            if self.clock() >= deadline:
                raise ExperimentFailed(f"timed out after {timeout:g} s waiting for {what}")
            self.sleep(self.config.poll_interval)

    def _time_scale_of(self) -> float:
        if self._time_scale is not None:
            return float(self._time_scale)
        if self._injected_factory:
            return 1.0
        from spotkit.aws import emulator_endpoint

        return emulator_time_scale(emulator_endpoint()) if load_environment(self.config.env).emulator else 1.0

    # ------------------------------------------------------------------ preparation (read-only)
    def prepare(self) -> tuple:
        """Guard, outputs, compute environment, method, plan: read-only. Returns ``(problems, plan)``.

        Raises:
            ChaosUsageError: outputs missing/unreadable, the env unusable, the compute environment
                unknown, no method fits it, or the FIS template unreadable.
            spotkit.chaos.state.StateFileError: the state file is unreadable.
        """
        cfg = self.config
        problems = guard.preflight(cfg, self.state_path)
        if problems and not cfg.dry_run:
            raise ChaosUsageError("; ".join(problems))  # before any AWS call
        source = self._outputs_source
        if source is None and cfg.dry_run:
            source = readonly_outputs
        overrides = {k: getattr(cfg, k) for k in OVERRIDES}
        if cfg.job_id:
            self.followed = self._follow()
            # The job, not the environment, says where it runs: its queue, definition and CE.
            overrides.update(job_queue=self.followed.job_queue, job_definition=self.followed.job_definition,
                             compute_environment=self.followed.compute_environment.arn)
        self.outputs = resolve_outputs(source, cfg.env, overrides)
        try:
            ce = (self.followed.compute_environment if self.followed else
                  probes.describe_compute_environment(self.client("batch"), self.outputs.compute_environment))
            scale = self._time_scale_of()
        except ChaosUsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - unknown env, bad settings, no credentials
            raise ChaosUsageError(f"env {cfg.env!r} is not usable: {type(exc).__name__}: {exc}") from exc
        if ce is None:
            raise ChaosUsageError(f"compute environment {self.outputs.compute_environment} does not exist")
        try:
            self.method = methods.get(cfg.method or methods.default_for(ce))
        except ChaosUsageError as exc:
            if not self.followed:
                raise
            raise follow.JobRefused(f"--job-id {cfg.job_id}: {exc}") from None
        self.ctx = methods.MethodContext(config=cfg, outputs=self.outputs, ce=ce, run_id=self.run_id,
                                         client=self.client, journal=self.journal, time_scale=scale,
                                         clock=self.clock, sleep=self.sleep)
        problems += guard.check(self.ctx, self.method)
        problems += self._recovery_refusals()
        if self.followed:
            problems += [p for p in [self._instance_refusal(self.followed)] if p]
        return problems, self.plan(refused=bool(problems))

    # ------------------------------------------------------------------ --job-id
    def _follow(self):
        """Follow ``--job-id`` to its queue, CE and instance (:func:`spotkit.chaos.follow.follow_job`).

        Raises:
            JobRefused: the job cannot be acted on, or ``--job-queue``/``--job-definition``/
                ``--compute-environment`` contradict it.
            ChaosUsageError: the env's AWS cannot be reached.
        """
        cfg = self.config
        if cfg.job_queue or cfg.job_definition:
            raise follow.JobRefused(f"--job-id {cfg.job_id} follows the job's own job queue and job definition; "
                                    "drop --job-queue/--job-definition")
        try:
            followed = follow.follow_job(self.client("batch"), self.client("ecs"), cfg.job_id)
        except ChaosUsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - unknown env, bad settings, no credentials
            raise ChaosUsageError(f"env {cfg.env!r} is not usable: {type(exc).__name__}: {exc}") from exc
        ce = followed.compute_environment
        if cfg.compute_environment and cfg.compute_environment not in (ce.name, ce.arn):
            raise follow.JobRefused(f"--job-id {cfg.job_id} runs in compute environment {ce.name}, not "
                                    f"--compute-environment {cfg.compute_environment}")
        return followed

    def _recovery_refusals(self) -> list:
        """The recovery this run proves must be possible for jobs of its queue: native retry on a
        followed job needs attempts left; resubmission needs the resubmit rule to watch the queue
        (checked for ``--job-id``, and for probe jobs when the environment names its rule)."""
        cfg, out = self.config, self.outputs
        if cfg.native_retry:
            if not self.followed:
                return []
            from spotkit.emulator.retry import should_retry  # AWS's retry rules (job_retries.html); no moto

            why = follow.retry_refusal(self.followed, should_retry)
            return [why] if why else []
        if not (self.followed or out.resubmit_rule_name):
            return []
        why = probes.resubmission_refusal(self.client("events"), out.resubmit_rule_name, out.job_queue,
                                          out.kit_job_queues)
        if not why:
            return []
        return [f"--job-id {cfg.job_id}: {why}" if self.followed else why]

    def _instance_refusal(self, followed) -> str | None:
        instance = None
        if followed.instance_id:
            instance = probes.describe_instances(self.client("ec2"), [followed.instance_id]).get(followed.instance_id)
        return follow.instance_refusal(followed, instance, self.outputs.chaos_opt_in_tag, env=self.config.env,
                                       local_env=guard.LOCAL_ENV, method_name=self.method.NAME,
                                       fis_method=methods.DEFAULT_SPOT_METHOD)

    def _refollow(self) -> None:
        """Once the followed job runs: it must still be in the CE chosen at the start, on an instance
        that may be targeted (a job that was RUNNABLE has only now got one). Read-only.

        Raises:
            JobRefused: it moved to another CE, or its instance may not be targeted (nothing changed yet).
        """
        now = follow.follow_job(self.client("batch"), self.client("ecs"), self.config.job_id)
        if now.compute_environment.arn != self.ctx.ce.arn:
            raise follow.JobRefused(f"--job-id {self.config.job_id} now runs in compute environment "
                                    f"{now.compute_environment.name}, not {self.ctx.ce.name}")
        why = self._instance_refusal(now)
        if why:
            raise follow.JobRefused(why)
        self.followed = now
        self.report["followed_job"] = now.to_dict()

    def _target_rule(self) -> str:
        cfg = self.config
        if cfg.percent is not None:
            how = f"{cfg.percent:g}% (rounded up, at least 1)"
        else:
            how = str(cfg.instances or 1)
        key, value = self.outputs.chaos_opt_in_tag
        tagged = "" if cfg.env == guard.LOCAL_ENV else f" tagged {key}={value}"
        return (f"{how} of the {self.ctx.ce.name} running instances{tagged}, the instances under the probe "
                "jobs first (most probe jobs first)")

    def plan(self, refused: bool = False) -> dict:
        """What the run will do (read-only calls only)."""
        cfg, ce = self.config, self.ctx.ce
        candidates = probes.running_instances(self.client("ecs"), self.client("ec2"), ce)
        self.ctx.data["planned_targets"] = self._target_count(len(self._opted_in(candidates)), capped=True)
        mplan = {} if refused else self.method.plan(self.ctx)
        workload_text = (f"adopt job {cfg.job_id}" if cfg.job_id else
                         f"{cfg.jobs} probe job(s)" + (f" + 1 array job of {cfg.array_size}" if cfg.array_size else "")
                         + f", sleeping {cfg.probe_seconds} s, "
                         + ("the job definition's retryStrategy" if cfg.native_retry else "retryStrategy attempts=1"))
        return {
            "env": cfg.env, "run_id": self.run_id,
            "compute_environment": ce.to_dict(),
            "method": self.method.NAME, "method_summary": self.method.SUMMARY,
            "time_scale": self.ctx.time_scale,
            "workload": workload_text,
            "targets": mplan.get("targets") or self._target_rule(),
            "candidates": [{"instance_id": c.instance_id, "instance_type": c.instance_type,
                            "lifecycle": c.lifecycle} for c in self._opted_in(candidates)],
            "actions": ["batch:SubmitJob the probe workload" if not cfg.job_id else f"adopt {cfg.job_id}",
                        *mplan.get("actions", [])],
            "rollbacks": [*mplan.get("rollbacks", []),
                          "probe jobs kept" if cfg.keep_jobs or cfg.job_id
                          else "batch:TerminateJob the probe jobs and their resubmissions"],
            "stop_condition": None if refused else self.method.stop_condition(self.ctx),
            "checks": ["steady state before and after: job queue and compute environment VALID/ENABLED"
                       + ("" if cfg.native_retry else ", resubmit function Active"),
                       "each target shutting-down/terminated (DescribeInstances)",
                       "every job RUNNING on a target fails 'Host EC2 (instance i-…) terminated.'",
                       f"each comes back exactly once ({self.recovery_mode}) and reaches RUNNING",
                       f"settle window: no late duplicate successor for {cfg.settle_seconds:g} s after that",
                       "resubmissions match their original (lineage, tags, definition, queue, command, timeout)"],
        }

    def _target_count(self, candidates: int, capped: bool = False) -> int:
        """How many instances to interrupt out of ``candidates`` opted-in running ones (``capped``: no
        more than there are, when there are any)."""
        cfg = self.config
        if cfg.percent is not None:
            return max(1, math.ceil(candidates * cfg.percent / 100.0))
        count = cfg.instances or 1
        return min(count, candidates) if capped and candidates else count

    def _opted_in(self, candidates: list) -> list:
        key, value = self.outputs.chaos_opt_in_tag
        tagged = [c for c in candidates if c.tags.get(key) == value]
        if self.config.env == guard.LOCAL_ENV and not tagged:
            return candidates
        return tagged

    def print_plan(self, plan: dict, problems: list) -> None:
        ce = plan["compute_environment"]
        out = self.console.print
        out(f"[bold]spotkit chaos spot --dry-run[/bold] (env {plan['env']}, run id {plan['run_id']}): nothing "
            "will be changed")
        out(f"  compute environment: {ce['name']} ({ce['type'] or 'UNMANAGED'}, {ce['allocation_strategy']}, "
            f"backend {ce['backend']}, {ce['status']}/{ce['state']})")
        out(f"  method: {plan['method']} -- {plan['method_summary']}")
        if plan["time_scale"] != 1.0:
            out(f"  FIS durations x{plan['time_scale']:g} on the emulator")
        out(f"  workload: {plan['workload']}")
        out(f"  targets: {plan['targets']}")
        out(f"  candidates now: {', '.join(c['instance_id'] for c in plan['candidates']) or 'none running'}")
        for title in ("actions", "rollbacks", "checks"):
            out(f"  {title}:")
            for line in plan[title]:
                out(f"    - {line}")
        out(f"  stop condition: {plan['stop_condition'] or 'none'}")
        for p in problems:
            out(f"  [bold red]refused:[/bold red] {p}")

    # ------------------------------------------------------------------ steady state
    def steady_state(self, when: str) -> bool:
        """Run the hypothesis' probes; record them under ``steady_state[when]``; True when all hold."""
        batch = self.client("batch")
        results = [probes.job_queue_valid_and_enabled(batch, self.outputs.job_queue),
                   probes.compute_environment_valid_and_enabled(batch, self.outputs.compute_environment)]
        if self.outputs.resubmit_function_name and not self.config.native_retry:
            results.append(probes.function_active(self.client("lambda"), self.outputs.resubmit_function_name))
        self.report.setdefault("steady_state", {})[when] = results
        for r in results:
            now = self.journal.elapsed()
            self.journal.activities.append({"type": "probe", "name": f"{r['name']} ({when})", "start": now,
                                            "end": now, "status": "succeeded" if r["ok"] else "failed",
                                            "output": r["value"]})
            mark = "[green]ok[/green]" if r["ok"] else "[red]DEVIATED[/red]"
            self.log(f"steady-state probe {r['name']}: {r['value']} {mark}")
        return all(r["ok"] for r in results)

    # ------------------------------------------------------------------ workload
    def _note_status(self, details: dict) -> None:
        for jid, job in details.items():
            status = job.get("status")
            if self._last_status.get(jid) != status:
                before = self._last_status.get(jid)
                reason = f" ({job['statusReason']})" if job.get("statusReason") and status == "FAILED" else ""
                self.log(f"job {jid}: {before + ' -> ' if before else ''}{status}{reason}")
                self._last_status[jid] = status

    def _submit_workload(self) -> list:
        cfg, batch = self.config, self.client("batch")
        if cfg.job_id:
            job = describe_jobs(batch, [cfg.job_id]).get(cfg.job_id)
            if job is None or job.get("status") not in ACTIVE_JOB_STATUSES:
                status = job.get("status") if job else "unknown"
                raise ChaosUsageError(f"job {cfg.job_id} is {status}; adopt an active job")
            self.log(f"adopted job {cfg.job_id} ({job.get('jobName')}); it will not be terminated at the end")
            self._note_status({cfg.job_id: job})
            return [cfg.job_id]
        names, array_name = workload.probe_job_names(self.run_id, cfg.jobs, cfg.array_size)
        entry = self.writer.add_undo(statelib.UNDO_TERMINATE_JOBS, job_ids=[], job_queue=self.outputs.job_queue,
                                     job_names=names[:cfg.jobs] + ([array_name] if array_name else []),
                                     fallback_job_queue=self.outputs.fallback_job_queue)
        self._owns_probes = True
        try:
            wl = workload.submit_probe_workload(
                batch, run_id=self.run_id, job_queue=self.outputs.job_queue,
                job_definition=self.outputs.job_definition, jobs=cfg.jobs, array_size=cfg.array_size,
                probe_seconds=cfg.probe_seconds, native_retry=cfg.native_retry)
        except workload.WorkloadSubmitError as exc:
            self.writer.update(entry, job_ids=exc.workload.all_ids())
            raise ExperimentFailed(str(exc)) from exc
        except workload.WorkloadError as exc:
            raise ExperimentFailed(str(exc)) from exc
        self.writer.update(entry, job_ids=wl.all_ids())
        for jid in wl.all_ids():
            self.log(f"submitted probe job {jid} ({wl.job_names.get(jid)}) to {self.outputs.job_queue}")
        return wl.all_ids()

    def _wait_running(self, ids: list) -> dict:
        """``{instance id: [probe JobDetail]}`` once every probe job (each array child) is RUNNING."""
        batch, ecs = self.client("batch"), self.client("ecs")
        parents = set()
        expected = 0
        for jid, d in describe_jobs(batch, ids).items():
            size = (d.get("arrayProperties") or {}).get("size")
            if size and ":" not in jid:
                parents.add(jid)
                expected += int(size)
            else:
                expected += 1

        def check():
            plain = [i for i in ids if i not in parents]
            details = describe_jobs(batch, ids)
            self._note_status(details)
            for jid in plain:
                status = (details.get(jid) or {}).get("status")
                if status in ("SUCCEEDED", "FAILED"):
                    raise ExperimentFailed(f"probe job {jid} ended {status} before RUNNING: "
                                           f"{details[jid].get('statusReason') or 'no statusReason'}")
            by_instance = workload.running_jobs_by_instance(
                batch, ecs, job_queues=[self.outputs.job_queue], compute_environments=[self.ctx.ce.arn], job_ids=ids)
            running = sum(len(v) for v in by_instance.values())
            return by_instance if running >= expected else None

        return self._poll(f"{expected} probe job(s) RUNNING on {self.ctx.ce.name}", check)

    # ------------------------------------------------------------------ targets
    def _choose_targets(self, probe_hosts: dict) -> tuple:
        ce = self.ctx.ce
        candidates = self._opted_in(probes.running_instances(self.client("ecs"), self.client("ec2"), ce))
        preferred = sorted(probe_hosts, key=lambda i: -len(probe_hosts[i]))
        count = self._target_count(len(candidates))
        targets = self.method.choose_targets(self.ctx, candidates, preferred, count)
        if not targets:
            raise ExperimentFailed(f"no opted-in running instance of {ce.name} to interrupt")
        queues = probes.job_queues_of(self.client("batch"), ce.arn) or [self.outputs.job_queue]
        self._queues = queues
        everyone = workload.running_jobs_by_instance(self.client("batch"), self.client("ecs"), job_queues=queues,
                                                     compute_environments=[ce.arn])
        for inst, jobs in probe_hosts.items():  # ListJobs is eventually consistent: keep what we saw
            known = {j["jobId"] for j in everyone.get(inst, [])}
            everyone.setdefault(inst, []).extend(j for j in jobs if j["jobId"] not in known)
        described = probes.describe_instances(self.client("ec2"), targets)
        rows = [{"instance_id": i, "instance_type": described[i].instance_type if i in described else None,
                 "compute_environment": ce.name, "jobs": [j["jobId"] for j in everyone.get(i, [])]}
                for i in targets]
        return rows, {i: everyone.get(i, []) for i in targets}

    # ------------------------------------------------------------------ watching
    def _check_alarm(self) -> None:
        arn = self.outputs.chaos_stop_condition_alarm_arn
        if not arn or self.method.FIS_STOP_CONDITION:
            return
        if probes.alarm_state(self.client("cloudwatch"), arn) == "ALARM":
            raise ExperimentFailed(f"stop condition: alarm {arn} is in ALARM; rolling back")

    def _watch_late_arrivals(self, pending: list) -> None:
        """Watch the jobs RUNNING now on targets not gone yet that are not watched: Batch may place
        work on a target until it goes (FIS interrupts up to durationBeforeInterruption, 2-15 min,
        after the targets were chosen)."""
        queues = getattr(self, "_queues", None) or [self.outputs.job_queue]
        by_instance = workload.running_jobs_by_instance(self.client("batch"), self.client("ecs"), job_queues=queues,
                                                        compute_environments=[self.ctx.ce.arn])
        rows = {r["instance_id"]: r for r in self.report.get("targets") or []}
        for inst in pending:
            fresh = [d for d in by_instance.get(inst, []) if not self.tracker.watched(d["jobId"])]
            for outcome in self.tracker.watch(inst, fresh):
                self._tracked.setdefault(inst, []).append(next(d for d in fresh if d["jobId"] == outcome.job_id))
                if inst in rows:
                    rows[inst]["jobs"].append(outcome.job_id)
                self.journal.event(f"job:{outcome.job_id}", "RUNNING",
                                   f"on {inst} (placed after the targets were chosen; watched too)")
                self.log(f"job {outcome.job_id} was placed on target {inst} after the targets were chosen: "
                         "watching it too")

    def _watch(self, targets: list, injected_at: float) -> None:
        from spotkit.chaos.verify import RecoveryTracker

        cfg, ec2 = self.config, self.client("ec2")
        self.tracker = tracker = RecoveryTracker(
            self.client("batch"), self._tracked, native_retry=cfg.native_retry, injected_at=injected_at,
            clock=self.clock, run_started_at=self.journal.t0,
            fallback_job_queue=self.outputs.fallback_job_queue)
        pending = list(targets)
        notified = False
        settle_until = None
        deadline = injected_at + self.method.expected_delay(self.ctx) + cfg.timeout
        while True:
            self.method.observe(self.ctx)
            if pending:
                for i, state in probes.gone(ec2, pending).items():
                    pending.remove(i)
                    self.journal.event(f"instance:{i}", "interrupted", f"DescribeInstances: {state}", "yellow")
            if pending:
                self._watch_late_arrivals(pending)
            if not pending and not notified:
                notified = True
                self.method.on_interrupted(self.ctx)
            self._check_alarm()
            done = tracker.poll()
            self.journal.add_events(tracker.events)
            if done and not pending:
                if tracker.summary()["problems"] or cfg.settle_seconds <= 0:
                    return
                if settle_until is None:
                    settle_until = self.clock() + cfg.settle_seconds
                    self.log(f"every job is RUNNING again; settle window: looking for late duplicate "
                             f"successors for {cfg.settle_seconds:g} s more")
                elif self.clock() >= settle_until:
                    self.log(f"settle window over: no duplicate successor in {cfg.settle_seconds:g} s")
                    return
            else:
                settle_until = None  # a job was added or is not final yet
                if self.clock() >= deadline:
                    tracker.expire()
                    self.journal.add_events(tracker.events)
                    if pending:
                        raise ExperimentFailed(f"timed out: instance(s) {', '.join(pending)} not interrupted")
                    return
            self.sleep(cfg.poll_interval)

    # ------------------------------------------------------------------ the method
    def _method(self) -> None:
        cfg, j = self.config, self.journal
        self.log(f"run {self.run_id}: {self.method.NAME} on {self.ctx.ce.name} ({self.ctx.ce.backend}) in env "
                 f"{cfg.env!r}, proving {self.recovery_mode}", "bold")
        if self.ctx.time_scale != 1.0:
            self.log(f"FIS durations x{self.ctx.time_scale:g} on the emulator")
        if not self.steady_state("before"):
            raise ExperimentFailed("steady-state hypothesis not met before the method; nothing was changed")
        self._probe_ids = j.activity("probe" if cfg.job_id else "action",
                                     "adopt-job" if cfg.job_id else "submit-probe-workload",
                                     self._submit_workload, output=list)
        self.report["original_job_id"] = self._probe_ids[0]
        probe_hosts = j.activity("probe", "wait-for-probe-jobs-running", self._wait_running, self._probe_ids,
                                 output=lambda r: {i: [d["jobId"] for d in v] for i, v in r.items()})
        for inst, jobs in probe_hosts.items():
            for d in jobs:
                j.event(f"job:{d['jobId']}", "RUNNING", f"on {inst}")
        if cfg.job_id:
            j.activity("probe", "follow-job", self._refollow, output=lambda r: self.report.get("followed_job"))
        rows, self._tracked = j.activity("probe", "choose-targets", self._choose_targets, probe_hosts,
                                         output=lambda r: r[0])
        self.report["targets"] = rows
        first_probe = next((i for i, v in probe_hosts.items() for d in v if d["jobId"] in self._probe_ids), None)
        self.report["instance_id"] = first_probe if first_probe in self._tracked else (rows[0]["instance_id"])
        for row in rows:
            self.log(f"target {row['instance_id']} ({row['instance_type']}): {len(row['jobs'])} running job(s) "
                     f"{', '.join(row['jobs'])}")
        targets = [r["instance_id"] for r in rows]

        self._injected = True  # from here on, every exit path applies the undo entries
        info = j.activity("action", f"inject-{self.method.NAME}", self.method.inject, self.ctx, targets,
                          output=lambda r: r)
        compat = ("fleet_request_id", "original_target_capacity")  # the v1 report keys of fleet-capacity
        self.report.update({k: v for k, v in (info or {}).items() if k in compat})
        injected_at = self.clock()
        for i in targets:
            j.event(f"instance:{i}", "injected", self.method.NAME, "bold yellow")
        j.activity("probe", "wait-for-interruption-and-recovery", self._watch, targets, injected_at)
        self._verdict()
        if not self.steady_state("after"):
            raise ExperimentFailed("steady-state hypothesis not met after the method")

    def _verdict(self) -> None:
        outcomes = self.tracker.outcomes
        self.report["jobs"] = [o.to_dict() for o in outcomes]
        first = next((o for o in outcomes if o.job_id in self._probe_ids), None) or (outcomes[0] if outcomes else None)
        if first is not None:
            self.report.update(original_job_id=first.job_id, recovered_job_id=first.recovered_job_id,
                               instance_id=first.instance_id, observed_status_reason=first.failure_reason,
                               seconds_to_failure=first.seconds_to_failure,
                               seconds_to_recovery=first.seconds_to_recovery,
                               seconds_to_running=first.seconds_to_running)
            if first.recovery == RECOVERY_RESUBMITTED:
                self.report["resubmission_checks"] = {"problems": list(first.problems)}
        if not outcomes:
            raise ExperimentFailed("no job was running on the interrupted instances: nothing was proven")
        summary = self.tracker.summary()
        self.log(f"{summary['passed']}/{summary['jobs']} job(s) came back exactly once and RUNNING",
                 "green" if summary["passed"] == summary["jobs"] else "red")
        if summary["passed"] != summary["jobs"]:
            problems = summary["problems"] or [f"job {o.job_id}: {o.state}" for o in outcomes if not o.passed()]
            raise ExperimentFailed("; ".join(problems))

    # ------------------------------------------------------------------ run
    def run(self) -> dict:
        """Run the experiment and write the report; returns the report dict (see
        :mod:`spotkit.chaos.report`), or with ``config.dry_run`` ``{"dry_run": True, "plan": {...},
        "refusals": [...]}`` after printing the plan (nothing written).

        Raises:
            ChaosUsageError: refused before anything was changed (see :mod:`spotkit.chaos.guard`).
                No report is written then.
            spotkit.chaos.state.StateFileError: the state file is unreadable.
        Never raises for an experiment that fails: ``report["passed"]`` is False with
        ``failure_reason``; ``report["interrupted"]`` names the signal when one stopped the run.
        """
        cfg = self.config
        problems, plan = self.prepare()
        if cfg.dry_run:
            self.print_plan(plan, problems)
            return {"dry_run": True, "plan": plan, "refusals": problems}
        if problems:
            raise ChaosUsageError("; ".join(problems))
        self.report = {
            "passed": False, "run_id": self.run_id, "env": cfg.env, "method": self.method.NAME,
            "recovery": self.recovery_mode, "time_scale": self.ctx.time_scale,
            "started_at": statelib.utcnow(), "finished_at": None, "failure_reason": None, "interrupted": None,
            "compute_environment": self.ctx.ce.to_dict(), "steady_state": {}, "targets": [], "jobs": [],
            "original_job_id": None, "recovered_job_id": None, "instance_id": None,
            "seconds_to_failure": None, "seconds_to_recovery": None, "seconds_to_running": None,
            "capacity_restored": None, "config": cfg.to_dict(),
            # what applied the environment: hashicorp/aws as locked by the root's .terraform.lock.hcl
            "aws_provider_version": locked_aws_version(load_environment(cfg.env).root_dir),
            "followed_job": self.followed.to_dict() if self.followed else None,
        }
        self.writer = statelib.StateWriter(statelib.ChaosState(run_id=self.run_id, env=cfg.env,
                                                               method=self.method.NAME), self.state_path)
        self.ctx.state = self.writer
        self._skip_report = False

        def on_signal(signum, frame):
            raise ExperimentInterrupted(signal.Signals(signum).name)

        try:
            with _signals(on_signal):
                self._method()
            self.report["passed"] = True
        except ChaosUsageError as exc:
            if not self.writer.written:
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
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the account changed
            self.report["failure_reason"] = f"unexpected {type(exc).__name__}: {exc}"
            self.report["traceback"] = traceback.format_exc()
        finally:
            self._finish()
        return self.report

    def _undo_all(self) -> bool:
        """Apply every open undo entry in reverse order; True when none is left."""
        cfg = self.config
        terminate = self.writer.state.entry(statelib.UNDO_TERMINATE_JOBS)
        if terminate is not None and not terminate.get("done") and self.tracker is not None:
            ours = [o for o in self.tracker.outcomes if o.job_id.split(":")[0] in self._probe_ids]
            successors = [o.recovered_job_id.split(":")[0] for o in ours if o.recovered_job_id]
            self.writer.update(terminate, job_ids=list(dict.fromkeys([*terminate["job_ids"], *successors])))
        for entry in reversed(self.writer.state.open_entries()):
            kind = entry["kind"]
            if kind == statelib.UNDO_TERMINATE_JOBS and cfg.keep_jobs:
                self.journal.skipped("rollback", kind, "--keep-jobs")
                self.writer.update(entry, done=True)
                continue
            ok, detail = apply_entry(entry, self.client, timeout=min(cfg.timeout, 120.0),
                                     poll_interval=cfg.poll_interval, clock=self.clock, sleep=self.sleep)
            self.journal.rollback(kind, "succeeded" if ok else "failed", detail)
            if ok:
                self.writer.update(entry, done=True)
        return self.writer.clear_if_done()

    def _finish(self) -> None:
        deferred, clean = [], False
        # Rollbacks must not be cut short by a second Ctrl-C: signals are recorded, not raised.
        with _signals(lambda signum, frame: deferred.append(signal.Signals(signum).name), sigint=True):
            try:
                try:
                    clean = self._undo_all()
                except Exception as exc:  # noqa: BLE001 - keep the state file for `spotkit chaos rollback`
                    clean = False
                    self.log(f"rollback failed: {exc}; run `spotkit chaos rollback`", "bold red")
                if self._injected:
                    self.report["capacity_restored"] = clean
                if not clean:
                    self.log(f"rollback incomplete; {self.state_path} kept: run `spotkit chaos rollback`", "bold red")
            finally:
                if self.report.get("capacity_restored") is False or not clean:
                    self.report["passed"] = False
                    self.report["failure_reason"] = self.report.get("failure_reason") or "rollback incomplete"
                self.report.update(
                    finished_at=statelib.utcnow(), journal=self.journal.activities, events=self.journal.events,
                    rollbacks=self.journal.rollbacks, timeline=self.journal.timeline)
                self.report.setdefault("interrupted", None)
                if deferred:
                    self.report["deferred_signals"] = deferred
                if not self._skip_report:
                    self.report["report_path"] = str(write_report(self.report, self.reports_dir))
