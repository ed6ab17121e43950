"""The emulator process: moto server + the Batch-on-Spot data plane, in one process.

Run in the foreground with ``python -m spotkit.emulator.server --port 4566``; ``spotkit local up``
runs it in the background. Region us-east-1, account 123456789012 (moto's default account).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from spotkit.paths import STATE_DIR

log = logging.getLogger("spotkit.emulator")

ACCOUNT_ID = "123456789012"


class PortInUse(RuntimeError):
    """The emulator's port is taken by another process."""


@dataclass
class EmulatorConfig:
    """Knobs of the emulator (all durations in seconds).

    Attributes:
        tick_seconds: period of the data plane's scheduling round.
        dwell_seconds: minimum time in SUBMITTED, PENDING and STARTING.
        scale_delay_seconds: how long a RUNNABLE job waits before capacity grows for it.
        boot_seconds: time from instance launch to accepting jobs.
        idle_seconds: how long an idle instance stays before scale-in.
        execution: ``process`` (jobs run their command) or ``hold`` (no process; scale runs).
        lambda_retries: retries of a failed asynchronous Lambda invocation (AWS: 2).
        lambda_backoff_seconds: wait before retry n is this × n.
        submit_job_rate: SubmitJob calls per second before TooManyRequestsException (AWS: 50;
            the burst equals the rate; 0 disables throttling).
        esm_poll_seconds: period of the SQS event source mapping poller.
        stats_seconds: how often counters are written to ``<work_dir>/stats.json``.
        stop_timeout_seconds: SIGTERM → SIGKILL grace when an attempt times out or is terminated
            (ECS StopTask's default stop timeout: 30).
        time_scale: TEST-STAGE clock knob, applied to attempt deadlines (``attemptDurationSeconds``)
            and the stop grace only: 0.02 makes AWS's minimum 60 s timeout fire after 1.2 s. 1.0 is
            AWS's clock; nothing else (dwell, boot, Lambda backoff) is scaled.
        fis_time_scale: TEST-STAGE FIS time factor: every wait of an AWS FIS experiment
            (``durationBeforeInterruption``, the two-minute interruption-warning lead) is multiplied by
            it: 0.025 makes PT2M 3 s. 1.0 (default) is AWS's clock (:mod:`spotkit.emulator.fis`).
        iam: ``enforce`` (default; env ``SPOTKIT_EMULATOR_IAM``): functions run with their execution
            role's credentials and their requests are checked against its identity policies
            (:mod:`spotkit.emulator.iam`); ``off``: functions get the unrestricted test keys.
    """

    port: int = 4566
    host: str = "127.0.0.1"
    region: str = "us-east-1"
    tick_seconds: float = 0.2
    dwell_seconds: float = 0.5
    scale_delay_seconds: float = 1.0
    boot_seconds: float = 1.0
    idle_seconds: float = 30.0
    execution: str = "process"
    lambda_retries: int = 2
    lambda_backoff_seconds: float = 1.0
    submit_job_rate: float = 50.0
    esm_poll_seconds: float = 0.1
    stats_seconds: float = 1.0
    stop_timeout_seconds: float = 30.0
    time_scale: float = 1.0
    fis_time_scale: float = 1.0
    iam: str = field(default_factory=lambda: os.environ.get("SPOTKIT_EMULATOR_IAM", "enforce"))
    work_dir: Path = field(default_factory=lambda: STATE_DIR / "emulator")

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class InfoApp:
    """WSGI wrapper of the moto server: ``GET /_spotkit/info`` answers ``info()`` as JSON (HTTP 200);
    every other request goes to moto unchanged."""

    PATH = "/_spotkit/info"

    def __init__(self, app, info):
        self.app, self.info = app, info

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == self.PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            body = json.dumps(self.info()).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


class Emulator:
    """Starts/stops the moto server and the data plane thread in this process.

    Counters (:meth:`stats`) are logged when they change and written to ``<work_dir>/stats.json``
    every ``stats_seconds`` (and on stop), so a benchmark in another process can read them.

    Raises:
        PortInUse: from :meth:`start` when ``config.port`` is taken.
    """

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self._stop = threading.Event()
        self._thread = None
        self.server = None
        self.engine = None
        self.dispatcher = None
        self.throttle = None
        self.batch_calls = None
        self._uncount = None
        self.events_calls = None
        self._uncount_events = None
        self.poller = None
        self.iam = None
        self.fis = None
        self._last_stats: dict = {}
        self._stats_due = 0.0

    def start(self) -> "Emulator":
        # AWS-managed IAM policies (AWSBatchServiceRole, AmazonEC2SpotFleetTaggingRole, ...) exist
        # in every account; moto loads them only when asked.
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        from moto.awslambda.models import lambda_backends
        from moto.batch.models import batch_backends
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.ec2.models import ec2_backends
        from moto.ecs.models import ecs_backends
        from moto.events.models import events_backends
        from moto.fis.models import fis_backends
        from moto.server import ThreadedMotoServer
        from moto.sqs.models import sqs_backends

        from spotkit.emulator import fis, patches
        from spotkit.emulator.capacity import Capacity
        from spotkit.emulator.esm import SqsEventSourcePoller
        from spotkit.emulator.events import BatchEventPublisher, LambdaRunner, LambdaTargetDispatcher
        from spotkit.emulator.jobs import JobEngine
        from spotkit.emulator.throttle import BatchApiCalls, SubmitJobThrottle, count_batch_calls

        cfg = self.config
        if not port_free(cfg.host, cfg.port):
            raise PortInUse(f"{cfg.host}:{cfg.port} is already in use; stop what holds it or pick another "
                            "port (--port / SPOTKIT_EMULATOR_PORT)")
        patches.install()
        fis.install()
        cfg.work_dir.mkdir(parents=True, exist_ok=True)
        region, acct = cfg.region, ACCOUNT_ID
        batch = batch_backends[acct][region]
        capacity = Capacity(batch, ec2_backends[acct][region], ecs_backends[acct][region],
                            boot_seconds=cfg.boot_seconds, idle_seconds=cfg.idle_seconds)
        runner = LambdaRunner(cfg.endpoint, cfg.work_dir / "lambda", region)
        self.dispatcher = LambdaTargetDispatcher(lambda_backends[acct][region], sqs_backends[acct][region], runner,
                                                 retries=cfg.lambda_retries, backoff_seconds=cfg.lambda_backoff_seconds)
        patches.lambda_target_sink = self.dispatcher
        self.throttle = SubmitJobThrottle(cfg.submit_job_rate)
        patches.submit_job_gate = self.throttle
        self.batch_calls = BatchApiCalls()
        self._uncount = count_batch_calls(self.batch_calls)
        from moto.events.responses import EventsHandler

        self.events_calls = BatchApiCalls()  # PutEvents of the functions (decision events)
        self._uncount_events = count_batch_calls(self.events_calls, EventsHandler)
        self.poller = SqsEventSourcePoller(lambda_backends[acct][region], sqs_backends[acct][region], runner, region,
                                           poll_seconds=cfg.esm_poll_seconds)
        if cfg.iam == "enforce":
            from spotkit.emulator.iam import Enforcer

            self.iam = Enforcer(acct, region).install()
            runner.credentials = self.iam.credentials_for
            self.poller.gate = self.iam.event_source_gate
        job_env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "AWS_ENDPOINT_URL": cfg.endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        self.engine = JobEngine(batch, capacity, BatchEventPublisher(events_backends[acct][region]), job_env,
                                cfg.work_dir / "jobs", dwell_seconds=cfg.dwell_seconds,
                                scale_delay_seconds=cfg.scale_delay_seconds, execution=cfg.execution,
                                stop_timeout_seconds=cfg.stop_timeout_seconds, time_scale=cfg.time_scale)
        self.fis = fis.FisEngine(fis_backends[acct][region], ec2_backends[acct][region], events_backends[acct][region],
                                 cloudwatch_backends[acct][region], acct, region, time_scale=cfg.fis_time_scale,
                                 authorize=self._fis_authorize if self.iam else None,
                                 dwell_seconds=min(cfg.dwell_seconds, cfg.tick_seconds))
        self.server = ThreadedMotoServer(ip_address=cfg.host, port=cfg.port, verbose=False)
        self.server.start()
        # GET /_spotkit/info answered before moto sees the request (spotkit.emulator.info reads it)
        self.server._server.app = InfoApp(self.server._server.app, self.info)
        self._thread = threading.Thread(target=self._loop, name="batch-data-plane", daemon=True)
        self._thread.start()
        self.poller.start()
        log.info("spotkit emulator serving %s (region %s, account %s, execution=%s, SubmitJob rate %s/s, IAM %s, "
                 "FIS time factor %s)", cfg.endpoint, region, acct, cfg.execution, cfg.submit_job_rate or "unlimited",
                 cfg.iam, cfg.fis_time_scale)
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.engine.tick()
            except Exception:  # keep the data plane alive; the log says what broke
                log.exception("data plane tick failed")
            try:
                self.fis.tick()
            except Exception:
                log.exception("FIS tick failed")
            if time.monotonic() >= self._stats_due:
                self._stats_due = time.monotonic() + self.config.stats_seconds
                self.write_stats()
            self._stop.wait(max(0.0, self.config.tick_seconds - (time.monotonic() - started)))

    def info(self) -> dict:
        """What ``GET /_spotkit/info`` answers: ``{"spotkit_emulator": True, "fis_time_scale": F,
        "time_scale": T, "iam": "enforce"|"off", "region": ..., "account": ..., "execution": ...}``."""
        cfg = self.config
        return {"spotkit_emulator": True, "fis_time_scale": cfg.fis_time_scale, "time_scale": cfg.time_scale,
                "iam": cfg.iam, "region": cfg.region, "account": ACCOUNT_ID, "execution": cfg.execution}

    def _fis_authorize(self, role_arn: str, session: str, action: str, resource: str, context: dict):
        """IAM check of one FIS action on one resource with the experiment role's identity policies;
        the denial message, or None when allowed. The role session name FIS uses is assumed to be the
        experiment id (not verified)."""
        from spotkit.emulator.iam import _check, denial_message

        denied = self.iam.decide(role_arn, session, [_check(action, [resource], context)])
        if denied is None:
            with self.iam._lock:
                self.iam.stats["allowed"] += 1
            return None
        message = denial_message(*denied)
        self.iam._record(message)
        log.warning("IAM denied FIS %s: %s", action, message)
        return message

    def stats(self) -> dict:
        """Counters: ``{"submit_job": {"accepted", "throttled", "rate_per_second", "burst"},
        "batch_api_calls": {"lambda": {action: n}, "other": {action: n}}, "lambda_targets": {...},
        "sqs_event_sources": {...}, "iam": {"allowed", "denied", "unmapped"}}`` (see each component's docstring)."""
        return {
            "submit_job": self.throttle.stats() if self.throttle else {},
            "batch_api_calls": self.batch_calls.stats() if self.batch_calls else {},
            "events_api_calls": self.events_calls.stats() if self.events_calls else {},
            "lambda_targets": dict(self.dispatcher.stats) if self.dispatcher else {},
            "sqs_event_sources": dict(self.poller.stats) if self.poller else {},
            "iam": self.iam.snapshot() if self.iam else {},
        }

    def write_stats(self) -> dict:
        """Write :meth:`stats` (plus ``time``, epoch seconds) to ``<work_dir>/stats.json``
        atomically; log them when they changed. Returns the counters."""
        counters = self.stats()
        if counters != self._last_stats:
            self._last_stats = counters
            sj = counters["submit_job"]
            log.info("stats: SubmitJob %s accepted, %s throttled; Lambda targets %s; SQS event sources %s",
                     sj.get("accepted"), sj.get("throttled"), counters["lambda_targets"],
                     counters["sqs_event_sources"])
        path = self.config.work_dir / "stats.json"
        tmp = path.with_name(f".stats.{os.getpid()}.json")
        try:
            tmp.write_text(json.dumps(dict(counters, time=time.time()), indent=2))
            os.replace(tmp, path)
        except OSError:
            log.exception("could not write %s", path)
        return counters

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        if self.poller:
            self.poller.shutdown()
        if self.engine:
            self.engine.shutdown()
        if self.dispatcher:
            self.dispatcher.shutdown()
        if self.server:
            self.server.stop()
        if self.iam:
            self.iam.uninstall()
        if self.throttle:
            from spotkit.emulator import patches

            if patches.submit_job_gate is self.throttle:
                patches.submit_job_gate = None
            if self._uncount:
                self._uncount()
            if self._uncount_events:
                self._uncount_events()
            self.write_stats()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="spotkit local AWS emulator (moto + Batch-on-Spot data plane)")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--execution", choices=["process", "hold"], default="process")
    parser.add_argument("--tick", type=float, default=0.2, help="data plane period, seconds")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="idle time before scale-in, seconds")
    parser.add_argument("--dwell-seconds", type=float, default=0.5,
                        help="minimum time in SUBMITTED, PENDING and STARTING, seconds")
    parser.add_argument("--scale-delay-seconds", type=float, default=1.0,
                        help="how long a RUNNABLE job waits before capacity grows for it, seconds")
    parser.add_argument("--boot-seconds", type=float, default=1.0, help="instance launch to ready, seconds")
    parser.add_argument("--lambda-backoff-seconds", type=float, default=1.0,
                        help="wait before Lambda retry n is this x n, seconds")
    parser.add_argument("--submit-job-rate", type=float, default=50.0,
                        help="SubmitJob calls per second before TooManyRequestsException (burst = rate; 0 = off)")
    parser.add_argument("--stop-timeout-seconds", type=float, default=30.0,
                        help="SIGTERM to SIGKILL grace of a timed-out or terminated attempt, seconds (ECS: 30)")
    parser.add_argument("--time-scale", type=float, default=1.0,
                        help="TEST STAGE: multiply attempt timeouts and the stop grace by this (0.02: 60 s -> 1.2 s)")
    parser.add_argument("--fis-time-scale", type=float, default=1.0,
                        help="TEST STAGE: multiply every AWS FIS wait by this (0.025: PT2M -> 3 s)")
    parser.add_argument("--iam", choices=["enforce", "off"], default=os.environ.get("SPOTKIT_EMULATOR_IAM", "enforce"),
                        help="enforce: functions run with their execution role's permissions (default; env "
                             "SPOTKIT_EMULATOR_IAM); off: functions get unrestricted test keys")
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be > 0")
    if args.fis_time_scale <= 0:
        parser.error("--fis-time-scale must be > 0")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stdout)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    cfg = EmulatorConfig(port=args.port, host=args.host, execution=args.execution, tick_seconds=args.tick,
                         idle_seconds=args.idle_seconds, dwell_seconds=args.dwell_seconds,
                         scale_delay_seconds=args.scale_delay_seconds, boot_seconds=args.boot_seconds,
                         lambda_backoff_seconds=args.lambda_backoff_seconds,
                         submit_job_rate=args.submit_job_rate, stop_timeout_seconds=args.stop_timeout_seconds,
                         time_scale=args.time_scale, fis_time_scale=args.fis_time_scale, iam=args.iam)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    emulator = Emulator(cfg)
    try:
        emulator.start()
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"READY {cfg.endpoint}", flush=True)
    done.wait()
    log.info("stopping")
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
