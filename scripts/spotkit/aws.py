"""boto3 clients for a spotkit environment.

For an environment whose settings say ``emulator: true`` (``local``), clients talk to the local AWS
emulator at :func:`emulator_endpoint` with fixed fake credentials; otherwise the normal boto3
credential chain and the environment's region are used.
"""

from __future__ import annotations

import os
from functools import lru_cache

import boto3
from botocore.config import Config

DEFAULT_EMULATOR_PORT = 4566
EMULATOR_ACCOUNT_ID = "123456789012"
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
#: AWS Batch job statuses in life-cycle order (ListJobs filters by one at a time).
#: https://docs.aws.amazon.com/batch/latest/userguide/job_states.html
JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def emulator_port() -> int:
    """The emulator's TCP port: ``SPOTKIT_EMULATOR_PORT`` or 4566."""
    return int(os.environ.get("SPOTKIT_EMULATOR_PORT") or DEFAULT_EMULATOR_PORT)


def emulator_endpoint(port: int | None = None) -> str:
    """``http://127.0.0.1:<port>``: the single endpoint serving every emulated AWS service."""
    return f"http://127.0.0.1:{port or emulator_port()}"


@lru_cache(maxsize=None)
def _session(region: str, emulator: bool) -> boto3.Session:
    if emulator:
        return boto3.Session(region_name=region, **FAKE_CREDENTIALS)
    return boto3.Session(region_name=region)


def client(service: str, env: str = "local", **kwargs):
    """A boto3 client for ``service`` in spotkit environment ``env`` (see settings.yaml).

    Raises:
        spotkit.envs.SettingsError: ``env`` is not defined in settings.yaml.
    """
    from spotkit.envs import load_environment

    e = load_environment(env)
    cfg = Config(retries={"max_attempts": 8, "mode": "adaptive"}, connect_timeout=5, read_timeout=60)
    if e.emulator:
        return _session(e.region, True).client(service, endpoint_url=emulator_endpoint(), config=cfg, **kwargs)
    return _session(e.region, False).client(service, config=cfg, **kwargs)
