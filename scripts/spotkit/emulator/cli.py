"""``spotkit local up|down|status``: the emulator as a background process.

Files (git-ignored) under ``.spotkit/emulator-<port>/``: ``pid``, ``emulator.log``, and the
work folder (job attempt output, unpacked Lambda zips). A fresh ``up`` also clears
``.spotkit/local-<port>/`` (the ``local`` environment's Terraform state), since state that
describes a previous emulator's resources would be stale.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import List, Optional

import click

from spotkit.aws import emulator_port
from spotkit.paths import STATE_DIR


def run_dir(port: int) -> Path:
    return STATE_DIR / f"emulator-{port}"


def _pid(port: int) -> Optional[int]:
    pid_file = run_dir(port) / "pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        try:
            os.kill(pid, 0)
            cmdline = "spotkit.emulator.server"
        except OSError:
            return None
    return pid if "spotkit.emulator.server" in cmdline else None


def _responds(port: int, timeout: float = 5.0) -> bool:
    # STS GetCallerIdentity: cheap at any state size (moto-api/data.json dumps every model)
    url = f"http://127.0.0.1:{port}/?Action=GetCallerIdentity&Version=2011-06-15"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


#: The FIS time factor ``up`` starts the emulator with unless SPOTKIT_EMULATOR_FIS_TIME_SCALE is set:
#: AWS FIS waits (``durationBeforeInterruption``) x 0.025, so PT2M lasts 3 s.
DEFAULT_FIS_TIME_SCALE = 0.025
FIS_TIME_SCALE_ENV = "SPOTKIT_EMULATOR_FIS_TIME_SCALE"


def fis_time_scale_default() -> float:
    """``SPOTKIT_EMULATOR_FIS_TIME_SCALE`` when set (a float > 0), else :data:`DEFAULT_FIS_TIME_SCALE`.

    Raises:
        click.ClickException: the variable is set but not a number > 0.
    """
    raw = os.environ.get(FIS_TIME_SCALE_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_FIS_TIME_SCALE
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise click.ClickException(f"{FIS_TIME_SCALE_ENV} must be a number > 0, got {raw!r}")
    return value


def up(port: int, execution: str = "process", wait_seconds: float = 60.0, submit_job_rate: float = 50.0,
       fis_time_scale: Optional[float] = None) -> str:
    """Start the emulator on ``port`` unless ours already runs there; return its endpoint.

    ``fis_time_scale`` (None: :func:`fis_time_scale_default`) multiplies every AWS FIS wait; an
    emulator already running keeps the factor it was started with (``spotkit local status`` shows it).

    Raises:
        click.ClickException: the port is held by another process, or the emulator died/timed out.
    """
    from spotkit.emulator.server import port_free

    endpoint = f"http://127.0.0.1:{port}"
    if _pid(port) and _responds(port):
        click.echo(f"emulator already running at {endpoint} (pid {_pid(port)})")
        return endpoint
    fis_scale = fis_time_scale_default() if fis_time_scale is None else float(fis_time_scale)
    if not port_free("127.0.0.1", port):
        raise click.ClickException(
            f"port {port} is taken by another process; free it or choose another port with "
            f"--port / SPOTKIT_EMULATOR_PORT")
    rdir = run_dir(port)
    if rdir.exists():
        shutil.rmtree(rdir)
    rdir.mkdir(parents=True)
    shutil.rmtree(STATE_DIR / f"local-{port}", ignore_errors=True)  # stale Terraform state
    log_path = rdir / "emulator.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "spotkit.emulator.server", "--port", str(port), "--work-dir", str(rdir / "work"),
             "--execution", execution, "--submit-job-rate", str(submit_job_rate), "--fis-time-scale", str(fis_scale)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    (rdir / "pid").write_text(str(proc.pid))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            (rdir / "pid").unlink(missing_ok=True)
            raise click.ClickException(f"the emulator exited with {proc.returncode}:\n{tail}")
        if _responds(port):
            click.echo(f"emulator up at {endpoint} (pid {proc.pid}, log {log_path}, FIS time factor {fis_scale})")
            return endpoint
        time.sleep(0.25)
    proc.terminate()
    raise click.ClickException(f"the emulator did not answer on {endpoint} within {wait_seconds:.0f} s; see {log_path}")


def down(port: int) -> bool:
    """Stop our emulator on ``port`` (never another process); return whether one was running."""
    pid = _pid(port)
    if pid is None:
        (run_dir(port) / "pid").unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if _pid(port) is None:
            break
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
    (run_dir(port) / "pid").unlink(missing_ok=True)
    return True


_port_option = click.option("--port", type=int, default=None, show_default="SPOTKIT_EMULATOR_PORT or 4566",
                            help="TCP port on 127.0.0.1.")


@click.group("local")
def local_group():
    """The local AWS emulator (TEST STAGE): moto + spotkit's Batch-on-Spot data plane.

    Serves every AWS API the kit uses on http://127.0.0.1:<port> (region us-east-1, account
    123456789012). BEST_FIT Spot CEs get a Spot Fleet, every other managed CE an Auto Scaling group;
    jobs run as local processes; a lost host (FIS Spot interruption, TerminateInstances, a Spot Fleet
    capacity cut) ends their attempt with AWS's host-termination reason; AWS FIS experiments act
    (their waits scaled by the FIS time factor); job events reach Lambda and SQS targets.
    """


@local_group.command("up")
@_port_option
@click.option("--execution", type=click.Choice(["process", "hold"]), default="process", show_default=True,
              help="process: jobs run their command; hold: jobs stay RUNNING without a process (scale runs).")
@click.option("--submit-job-rate", type=click.FloatRange(min=0), default=50.0, show_default=True,
              help="SubmitJob calls per second before TooManyRequestsException (AWS quota: 50; 0 = unlimited).")
@click.option("--fis-time-scale", type=click.FloatRange(min=0, min_open=True), default=None,
              show_default=f"{FIS_TIME_SCALE_ENV} or {DEFAULT_FIS_TIME_SCALE}",
              help="TEST STAGE: multiply every AWS FIS wait by this (0.025: PT2M lasts 3 s; 1 = AWS's clock).")
def up_cmd(port, execution, submit_job_rate, fis_time_scale):
    """Start the emulator in the background (idempotent)."""
    up(port or emulator_port(), execution, submit_job_rate=submit_job_rate, fis_time_scale=fis_time_scale)


@local_group.command("down")
@_port_option
def down_cmd(port):
    """Stop the emulator started by `up` (only our own process)."""
    port = port or emulator_port()
    click.echo("emulator stopped" if down(port) else f"no spotkit emulator running on port {port}")


@local_group.command("status")
@_port_option
def status_cmd(port):
    """Say whether the emulator runs, where, and what it holds. Exit 1 when it is down."""
    port = port or emulator_port()
    pid = _pid(port)
    if not pid or not _responds(port):
        click.echo(f"down (port {port})")
        sys.exit(1)
    click.echo(f"up at http://127.0.0.1:{port} (pid {pid}); log {run_dir(port) / 'emulator.log'}")
    from spotkit.emulator import info

    details = info(f"http://127.0.0.1:{port}") or {}
    click.echo(f"  FIS time factor: {details.get('fis_time_scale', 'unknown')}, time scale: "
               f"{details.get('time_scale', 'unknown')}, IAM: {details.get('iam', 'unknown')}")
    for line in holdings(f"http://127.0.0.1:{port}"):
        click.echo(f"  {line}")


#: FIS experiment states that are not finished (FIS API Reference, ExperimentState).
UNFINISHED_EXPERIMENT = ("pending", "initiating", "running", "stopping")


def holdings(endpoint: str) -> List[str]:
    """What the emulator at ``endpoint`` holds, one line each (``spotkit local status``): counts, then
    every Spot Fleet request (target/fulfilled capacity, state), every Auto Scaling group (desired
    capacity, instances) and every FIS experiment not finished (id, template, state)."""
    import boto3

    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing")
    batch, ec2 = boto3.client("batch", **kw), boto3.client("ec2", **kw)
    autoscaling, fis = boto3.client("autoscaling", **kw), boto3.client("fis", **kw)
    ces = batch.describe_compute_environments()["computeEnvironments"]
    queues = batch.describe_job_queues()["jobQueues"]
    fleets = ec2.describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
    groups = [g for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate()
              for g in page["AutoScalingGroups"]]
    experiments = [e for page in fis.get_paginator("list_experiments").paginate() for e in page["experiments"]
                   if (e.get("state") or {}).get("status") in UNFINISHED_EXPERIMENT]
    lines = [f"compute environments: {len(ces)}, job queues: {len(queues)}, spot fleets: {len(fleets)}, "
             f"auto scaling groups: {len(groups)}, FIS experiments running: {len(experiments)}"]
    for f in fleets:
        cfg = f["SpotFleetRequestConfig"]
        lines.append(f"spot fleet {f['SpotFleetRequestId']}: target capacity {cfg['TargetCapacity']}, "
                     f"fulfilled {cfg.get('FulfilledCapacity')}, state {f.get('SpotFleetRequestState')}")
    for g in groups:
        lines.append(f"auto scaling group {g['AutoScalingGroupName']}: desired {g['DesiredCapacity']}, "
                     f"instances {len(g.get('Instances') or [])}")
    for e in experiments:
        lines.append(f"FIS experiment {e['id']}: template {e.get('experimentTemplateId')}, "
                     f"state {e['state']['status']}")
    return lines
