"""The cold-start benchmark: init plus the FIRST RECORD handled, in a fresh interpreter per run.

What one run measures (a fresh ``python -S`` process, like a Lambda cold start):

1. the zip is extracted into a new folder (the stand-in for the read-only ``/var/task``) and nothing
   but the runtime's own packages (:data:`RUNTIME_PACKAGES`, precompiled like ``/var/runtime``) is
   importable besides; no ``__pycache__`` is written next to the code (``-B``), so the zip's modules
   compile from source on every run unless the zip ships ``.pyc`` files (``spotkit package
   --compile-for``);
2. phase **import**: ``import app`` (module-level code: Powertools, the Batch client, the decision
   core);
3. phase **first record**: constructing the Lambda context, then ``app.handler(<SQS batch of one
   AWS-shaped reclaim record>, ctx)`` until it returns: the idempotency persistence layer is
   created (``SPOTKIT_IDEMPOTENCY_TABLE`` names a table created on the endpoint beforehand), one
   DescribeJobs reads the job, the claim is written, one SubmitJob resubmits it and the claim is
   completed -- all against a local endpoint (a moto ``ThreadedMotoServer`` in this process,
   ``AWS_ENDPOINT_URL``), so the endpoint's round trips are inside this phase and reported
   separately (``endpoint_ms``) so they can be told apart from the function's own work.

The clock starts before ``import app`` (``init_ms`` = import + first record is the measure with the
300 ms target): what precedes it -- exec of the interpreter and its start-up -- is the Lambda
runtime's own bootstrap (its runtime interface client, not ``python -S``), which the function
cannot change and this machine does not reproduce. It is reported too (``interpreter_ms``: parent's
clock before the spawn -> the probe's first line, CLOCK_MONOTONIC is system-wide) with the whole
``process_ms`` (spawn -> handler returned).

The record is AWS-shaped: tests/fidelity/aws/derived_job_state_change_failed_spot.json (a FAILED
"Batch Job State Change" event of a Spot host loss derived from AWS captures) re-pointed at a job
that exists on the endpoint (``jobId``, ``jobArn``, ``jobName``, ``jobQueue``, ``jobDefinition``,
``resources`` = [jobArn]) with AWS's ``detail.tags = {"resourceArn": jobArn}`` placeholder, wrapped
in an SQS event source mapping record. Each run gets a job of its own (a new job id, so the
idempotency claim is new and SubmitJob is really called), and is checked: no batch item failure,
exactly one DescribeJobs and one SubmitJob, and a successor job whose ``spotkit:lineage`` tag names
the failed job on the endpoint.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

from spotkit import paths
from spotkit.core import lineage

#: What the Lambda Python runtime provides besides the standard library (boto3 and its dependencies).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
#: The AWS-derived FAILED event (Spot host loss) every record is built from.
EVENT_TEMPLATE = Path("tests") / "fidelity" / "aws" / "derived_job_state_change_failed_spot.json"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
FUNCTION_NAME = "spotkit-resubmit"
#: Batch REST paths -> action names (the probe reports calls by action).
BATCH_ACTIONS = {"/v1/describejobs": "DescribeJobs", "/v1/submitjob": "SubmitJob", "/v1/listjobs": "ListJobs",
                 "/v1/describejobdefinitions": "DescribeJobDefinitions"}

#: The probe run by ``python -S -B -c PROBE <task> <runtime> <event.json> <out.json>``. It writes its
#: timings (seconds on CLOCK_MONOTONIC), the handler's response and the HTTP calls it made to
#: ``out.json``. HTTP calls are timed by wrapping botocore's URLLib3Session.send AFTER ``import app``
#: (botocore is loaded by then) and before the first-record clock starts, so neither phase pays for it.
PROBE = r'''
import time
T_START = time.monotonic()
import json, sys
task, runtime, event_path, out_path = sys.argv[1:5]
sys.path[:0] = [task, runtime]
with open(event_path) as f:
    event = json.load(f)
sys.stderr.write("spotkit-probe: import\n")
C_IMPORT, T_IMPORT = time.process_time(), time.monotonic()
import app
T_IMPORTED, C_IMPORTED = time.monotonic(), time.process_time()
import botocore.httpsession as _hs
calls = []
_send = _hs.URLLib3Session.send
def _timed_send(self, request):
    t = time.monotonic()
    try:
        return _send(self, request)
    finally:
        target = request.headers.get("X-Amz-Target")
        if isinstance(target, bytes):
            target = target.decode()
        calls.append({"url": request.url, "target": target, "seconds": time.monotonic() - t})
_hs.URLLib3Session.send = _timed_send
modules_before = len(sys.modules)
sys.stderr.write("spotkit-probe: first record\n")
C_FIRST, T_FIRST = time.process_time(), time.monotonic()
class LambdaContext:
    """What the Python runtime's context object offers (awslambdaric LambdaContext)."""
    def __init__(self, timeout_ms=60000):
        self._deadline_ms = int(time.time() * 1000) + timeout_ms
        self.function_name = "spotkit-resubmit"
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:spotkit-resubmit"
        self.memory_limit_in_mb = "256"
        self.aws_request_id = "c0ffee00-0000-4000-8000-000000000001"
        self.log_group_name = "/aws/lambda/spotkit-resubmit"
        self.log_stream_name = "2025/01/01/[$LATEST]00000000000000000000000000000000"
        self.identity = None
        self.client_context = None
    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)
ctx = LambdaContext()
T_HANDLER = time.monotonic()
response = app.handler(event, ctx)
T_DONE, C_DONE = time.monotonic(), time.process_time()
with open(out_path, "w") as f:
    json.dump({"t_start": T_START, "t_import": T_IMPORT, "t_imported": T_IMPORTED, "t_first": T_FIRST,
               "t_handler": T_HANDLER, "t_done": T_DONE,
               "c_import": C_IMPORT, "c_imported": C_IMPORTED, "c_first": C_FIRST, "c_done": C_DONE,
               "response": response, "calls": calls,
               "modules_at_import": modules_before, "modules_at_end": len(sys.modules)}, f)
'''


class ColdStartError(RuntimeError):
    """The cold-start benchmark could not run, or a run did not handle its record as expected."""


def runtime_dir(dest: Path) -> Path:
    """A folder holding (symlinks to) only :data:`RUNTIME_PACKAGES` from this interpreter's
    site-packages: the stand-in for the runtime's ``/var/runtime``, so that packages the developer
    venv has and Lambda lacks (moto, aws-xray-sdk, ...) cannot be imported."""
    import importlib.util

    dest.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            continue
        origin = Path(spec.origin)
        src = origin.parent if origin.name == "__init__.py" else origin
        (dest / src.name).symlink_to(src, target_is_directory=src.is_dir())
    return dest


def event_template(repo: Optional[Path] = None) -> dict:
    """The AWS-derived Spot-loss FAILED event (:data:`EVENT_TEMPLATE` under ``repo``; default: the
    checkout this module is in, else ``SPOTKIT_HOME``).

    Raises:
        ColdStartError: the file is missing (not a spotkit checkout) or not JSON.
    """
    if repo is None:
        checkout = Path(__file__).resolve().parents[3]
        repo = checkout if (checkout / EVENT_TEMPLATE).is_file() else paths.REPO_ROOT
    path = Path(repo) / EVENT_TEMPLATE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ColdStartError(f"cannot read the AWS-shaped event template {path}: {exc}") from None


def reclaim_event(template: dict, job: dict) -> dict:
    """``template`` re-pointed at ``job`` (a DescribeJobs JobDetail): a FAILED Spot-loss event as AWS
    sends it for that job (its ``detail.tags`` is the ``{"resourceArn": jobArn}`` placeholder, not
    the job's tags). The template is not modified."""
    event = json.loads(json.dumps(template))
    arn = job["jobArn"]
    event.update(id=str(uuid.uuid4()), region=arn.split(":")[3], account=arn.split(":")[4], resources=[arn])
    event["detail"].update(jobId=job["jobId"], jobArn=arn, jobName=job["jobName"], jobQueue=job["jobQueue"],
                           jobDefinition=job["jobDefinition"], createdAt=job["createdAt"],
                           tags={"resourceArn": arn})
    return event


def sqs_batch(event: dict, queue_arn: str) -> dict:
    """An event source mapping invocation of ONE SQS record whose body is ``event`` (first receive)."""
    body = json.dumps(event)
    now_ms = str(int(time.time() * 1000))
    import hashlib

    return {"Records": [{
        "messageId": str(uuid.uuid4()), "receiptHandle": "AQEB" + uuid.uuid4().hex, "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now_ms,
                       "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": now_ms},
        "messageAttributes": {}, "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": queue_arn.split(":")[3]}]}


class Endpoint:
    """A moto server in this process holding a Batch queue + job definition shaped like the event
    template's, and the idempotency table. Use as a context manager; :meth:`new_job` submits a job.

    Raises:
        ColdStartError: moto (the ``emulator`` extra) is not installed, or the server did not start.
    """

    def __init__(self, template: dict):
        self.template = template
        self.url = ""
        self._server = None
        # moto's backends are per process: names of their own, so two endpoints never collide.
        self.name = f"spotkit-bench-coldstart-{uuid.uuid4().hex[:8]}"
        self.table = f"{self.name}-idempotency"

    def __enter__(self) -> "Endpoint":
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            raise ColdStartError(f"the cold-start endpoint needs moto (pip install -e '.[dev]'): {exc}") from None
        import logging
        import urllib.request

        import boto3

        self._werkzeug = logging.getLogger("werkzeug")  # one access-log line per request otherwise
        self._werkzeug_level = self._werkzeug.level
        self._werkzeug.setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        try:
            # Jobs complete without Docker (the function only needs DescribeJobs to return them).
            urllib.request.urlopen(urllib.request.Request(
                f"{self.url}/moto-api/config", data=json.dumps({"batch": {"use_docker": False}}).encode(),
                method="POST", headers={"Content-Type": "application/json"}), timeout=30).read()
            kw = dict(endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
            self.batch = boto3.client("batch", **kw)
            iam, sqs, ddb = boto3.client("iam", **kw), boto3.client("sqs", **kw), boto3.client("dynamodb", **kw)
            role = iam.create_role(RoleName=f"{self.name}-batch", AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "batch.amazonaws.com"}}]}))
            ce = self.batch.create_compute_environment(computeEnvironmentName=self.name,
                                                       type="UNMANAGED", state="ENABLED",
                                                       serviceRole=role["Role"]["Arn"])["computeEnvironmentArn"]
            self.queue = self.batch.create_job_queue(
                jobQueueName=self.name, state="ENABLED", priority=1,
                computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
            container = self.template["detail"]["container"]
            self.job_definition = self.batch.register_job_definition(
                jobDefinitionName=self.name, type="container",
                containerProperties={"image": container["image"], "command": container["command"],
                                     "resourceRequirements": container["resourceRequirements"]},
                retryStrategy={"attempts": 1})["jobDefinitionArn"]
            ddb.create_table(TableName=self.table, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
            ddb.update_time_to_live(TableName=self.table, TimeToLiveSpecification={"Enabled": True,
                                                                               "AttributeName": "expiration"})
            events_url = sqs.create_queue(QueueName=f"{self.name}-events")["QueueUrl"]
            self.events_queue_arn = sqs.get_queue_attributes(
                QueueUrl=events_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._werkzeug.setLevel(self._werkzeug_level)

    def new_job(self, n: int) -> dict:
        """Submit job ``n`` like the template's (command, environment, a user tag); its JobDetail."""
        container = self.template["detail"]["container"]
        job = self.batch.submit_job(
            jobName=f"coldstart-{n:03d}", jobQueue=self.queue, jobDefinition=self.job_definition,
            containerOverrides={"environment": container.get("environment") or []},
            tags={"team": "bench"})
        return self.batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]

    def successors_of(self, job_id: str) -> List[str]:
        """Ids of the queue's jobs whose ``spotkit:lineage`` tag names ``job_id`` as the previous job."""
        ids = [s["jobId"] for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED",
                                          "FAILED")
               for s in self.batch.list_jobs(jobQueue=self.queue, jobStatus=status).get("jobSummaryList", [])]
        found = []
        for i in range(0, len(ids), 100):
            for d in self.batch.describe_jobs(jobs=ids[i:i + 100]).get("jobs", []):
                if lineage.previous_job_id(d.get("tags") or {}) == job_id:
                    found.append(d["jobId"])
        return found


def _action(call: dict) -> str:
    """``batch:DescribeJobs`` / ``dynamodb:PutItem`` / ``<host><path>`` for one probe call record."""
    if call.get("target"):
        return "dynamodb:" + call["target"].rsplit(".", 1)[-1]
    path = "/" + call["url"].split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
    return "batch:" + BATCH_ACTIONS[path] if path in BATCH_ACTIONS else path


def _stats(samples: List[float]) -> dict:
    """Median, min, max, spread (max - min) and the samples, in milliseconds (1 decimal)."""
    ms = [round(s * 1000, 1) for s in samples]
    return {"median_ms": round(statistics.median(samples) * 1000, 1), "min_ms": min(ms), "max_ms": max(ms),
            "spread_ms": round(max(ms) - min(ms), 1), "samples_ms": ms}


#: Wall-clock measures of one run, seconds (see :func:`phases`).
WALL_MEASURES = ("import", "first_record", "init", "endpoint_round_trips", "first_record_without_endpoint",
                 "interpreter", "process")
#: CPU time of the probe process (user + system), seconds: what the function itself costs, insensitive to
#: other processes sharing the machine and to the endpoint's latency.
CPU_MEASURES = ("import_cpu", "first_record_cpu", "init_cpu")


def phases(out: dict) -> Dict[str, float]:
    """The measures (seconds) of one probe output ``out`` (:data:`WALL_MEASURES` + :data:`CPU_MEASURES`).

    ``import``: ``import app``; ``first_record``: Lambda context + ``app.handler`` returning; ``init``:
    both; ``endpoint_round_trips``: the HTTP calls' time within the first record;
    ``first_record_without_endpoint``: the difference; ``interpreter``: spawn -> the probe's first
    line; ``process``: spawn -> handler returned. ``*_cpu``: the probe's CPU time in the phase.
    """
    endpoint = sum(c["seconds"] for c in out["calls"])
    first = out["t_done"] - out["t_first"]
    return {"import": out["t_imported"] - out["t_import"], "first_record": first,
            "init": out["t_imported"] - out["t_import"] + first, "endpoint_round_trips": endpoint,
            "first_record_without_endpoint": first - endpoint, "interpreter": out["t_start"] - out["t_spawn"],
            "process": out["t_done"] - out["t_spawn"], "import_cpu": out["c_imported"] - out["c_import"],
            "first_record_cpu": out["c_done"] - out["c_first"],
            "init_cpu": out["c_imported"] - out["c_import"] + out["c_done"] - out["c_first"]}


def run_once(python: str, task: Path, runtime: Path, event: dict, env: Dict[str, str], work: Path,
             python_args: tuple = ()) -> dict:
    """One probe run on an already extracted ``task``; the probe's raw output plus ``t_spawn``, its
    ``stdout`` (the function's logs) and ``stderr``. ``python_args``: extra interpreter options.

    Raises:
        ColdStartError: the probe failed (its stderr and stdout tails are in the message).
    """
    event_path, out_path = work / "event.json", work / "out.json"
    event_path.write_text(json.dumps(event))
    out_path.unlink(missing_ok=True)
    t_spawn = time.monotonic()
    proc = subprocess.run([python, "-S", "-B", *python_args, "-c", PROBE, str(task), str(runtime), str(event_path),
                           str(out_path)], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not out_path.is_file():
        raise ColdStartError(f"the cold-start probe failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}\n"
                             f"{proc.stdout[-1000:]}")
    return {**json.loads(out_path.read_text()), "t_spawn": t_spawn, "stdout": proc.stdout, "stderr": proc.stderr}


#: Top-level module -> group in the import-time breakdown (anything else: ``stdlib``).
_GROUPS = {"app": "function modules", "batchapi": "function modules", "stages": "function modules",
           "ledger": "function modules", "telemetry": "function modules", "spotkit": "spotkit.core",
           "aws_lambda_powertools": "aws_lambda_powertools", "typing_extensions": "typing_extensions",
           "jmespath": "jmespath", "botocore": "botocore", "boto3": "boto3", "urllib3": "urllib3",
           "dateutil": "dateutil", "s3transfer": "s3transfer", "six": "six"}


def importtime_breakdown(stderr: str, phase_seconds: Dict[str, float]) -> dict:
    """Where each phase's time went, from one probe run under ``python -X importtime``.

    ``stderr`` holds importtime lines (``import time: self_us | cumulative_us | <indent>name``, children
    before their importer) and the probe's ``spotkit-probe: <phase>`` markers; ``phase_seconds`` the
    run's ``import`` and ``first_record`` wall times. A module's self time goes to its group
    (:data:`_GROUPS`); a standard-library module's goes to the nearest importer that is not standard
    library (``asyncio`` imported by Powertools counts as ``aws_lambda_powertools``), so ``stdlib`` is
    only what the function and the probe import directly. Module-level code counts as its module's
    import (the Batch client created in batchapi's body is "function modules"). -X importtime adds its
    own overhead, so the numbers are for proportions, not for the target.

    Returns:
        ``{"import": {group: ms, ..., "not importing": ms}, "first_record": {...}}``, groups sorted
        by time, largest first.
    """
    lines: Dict[str, List[tuple]] = {"import": [], "first_record": []}
    phase = None
    for line in stderr.splitlines():
        if line.startswith("spotkit-probe: "):
            phase = line.split(": ", 1)[1].replace(" ", "_")
            continue
        if phase not in lines or not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, _, field = line[len("import time:"):].split("|", 2)
            name = field.strip()
            depth = (len(field) - len(field.lstrip(" ")) - 1) // 2
            lines[phase].append((int(self_us), depth, name))
        except ValueError:
            continue
    out = {}
    for phase, entries in lines.items():
        groups: Dict[str, float] = {}
        owners: Dict[int, str] = {}  # depth -> group of the importer being walked (pre-order)
        for self_us, depth, name in reversed(entries):
            group = _GROUPS.get(name.split(".")[0], "stdlib")
            if group == "stdlib" and depth > 0:
                group = owners.get(depth - 1, "stdlib")
            owners[depth] = group
            groups[group] = groups.get(group, 0.0) + self_us / 1000
        total_ms = phase_seconds.get(phase, 0.0) * 1000
        groups["not importing"] = max(total_ms - sum(groups.values()), 0.0)
        out[phase] = {g: round(ms, 1) for g, ms in sorted(groups.items(), key=lambda kv: -kv[1])}
    return out


def cold_start(zip_path: Path, runs: int = 7, python: Optional[str] = None, repo: Optional[Path] = None,
               breakdown: bool = False) -> dict:
    """Benchmark ``import``: ``runs`` cold starts of the function in ``zip_path`` (see the module docstring).

    Returns:
        ``{"runs", "python", "has_bytecode", "runtime_packages", "endpoint": "moto ThreadedMotoServer",
        "calls_per_run": {action: count}, "import": stats, "first_record": stats, "init": stats,
        "endpoint_round_trips": stats, "first_record_without_endpoint": stats, "interpreter": stats,
        "process": stats}``, each ``stats`` being :func:`_stats` (milliseconds). ``init`` = import +
        first record (target 300 ms). With ``breakdown``: ``"breakdown"``, one more run under
        ``-X importtime`` (:func:`importtime_breakdown`), not among the samples.

    Raises:
        ColdStartError: the endpoint did not start, a probe failed, or a run did not resubmit its job
            with exactly one DescribeJobs and one SubmitJob and no batch item failure.
    """
    python = python or sys.executable
    with zipfile.ZipFile(zip_path) as zf:
        has_bytecode = any(name.endswith(".pyc") for name in zf.namelist())
    template = event_template(repo)
    wall: Dict[str, List[float]] = {k: [] for k in WALL_MEASURES}
    cpu: Dict[str, List[float]] = {k: [] for k in CPU_MEASURES}
    calls_per_run: Optional[Dict[str, int]] = None
    with Endpoint(template) as endpoint, tempfile.TemporaryDirectory(prefix="spotkit-coldstart-") as tmp:
        runtime = runtime_dir(Path(tmp) / "runtime")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": "UTC",
               "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": endpoint.url,
               "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
               "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
               "LAMBDA_TASK_ROOT": "", "SPOTKIT_IDEMPOTENCY_TABLE": endpoint.table,
               "SPOTKIT_IDEMPOTENCY_TTL_SECONDS": "86400", "SPOTKIT_MAX_RESUBMISSIONS": "3",
               "SPOTKIT_SUBMIT_JOB_RATE": "25", "POWERTOOLS_SERVICE_NAME": FUNCTION_NAME,
               "POWERTOOLS_METRICS_NAMESPACE": "spotkit", "POWERTOOLS_LOG_LEVEL": "INFO",
               "PYTHONDONTWRITEBYTECODE": "1"}
        where = None
        for n in range(runs + (1 if breakdown else 0)):
            job = endpoint.new_job(n)
            batch_event = sqs_batch(reclaim_event(template, job), endpoint.events_queue_arn)
            work = Path(tmp) / f"run-{n}"
            task = work / "task"
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(task)
            env["LAMBDA_TASK_ROOT"] = str(task)
            out = run_once(python, task, runtime, batch_event, env, work,
                           ("-X", "importtime") if n == runs else ())
            calls: Dict[str, int] = {}
            for c in out["calls"]:
                calls[_action(c)] = calls.get(_action(c), 0) + 1
            failures = (out.get("response") or {}).get("batchItemFailures")
            successors = endpoint.successors_of(job["jobId"])
            if failures != [] or calls.get("batch:DescribeJobs") != 1 or calls.get("batch:SubmitJob") != 1 \
                    or len(successors) != 1:
                raise ColdStartError(f"run {n}: the record was not resubmitted once with one DescribeJobs and one "
                                     f"SubmitJob (response {out.get('response')}, calls {calls}, successors "
                                     f"{successors}); function output:\n{out['stdout'][-2000:]}")
            calls_per_run = calls
            measures = phases(out)
            if n == runs:  # the extra run under -X importtime
                where = importtime_breakdown(out["stderr"], measures)
                continue
            for name, value in measures.items():
                (wall if name in wall else cpu)[name].append(value)
    version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                             text=True).stdout.strip()
    return {"runs": runs, "python": version, "has_bytecode": has_bytecode, "runtime_packages": list(RUNTIME_PACKAGES),
            "endpoint": "moto ThreadedMotoServer (in the bench process)", "calls_per_run": calls_per_run,
            "wall": {name: _stats(values) for name, values in wall.items()},
            "cpu": {name: _stats(values) for name, values in cpu.items()},
            **({"breakdown": where} if where is not None else {})}
