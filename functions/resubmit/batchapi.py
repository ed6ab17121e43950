"""The function's AWS Batch calls: paced SubmitJob with backoff, and job-definition revisions.

Plain botocore clients: importing boto3 (and s3transfer with it) would add ~100 ms to every cold
start. botocore's own retries are OFF for Batch: SubmitJob has no client token, so retrying one
whose response was lost would create a second job; throttling is retried here, reads fail the
record and SQS retries it.
"""

from __future__ import annotations

import functools
import random
import time
from typing import Any, Callable

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from spotkit.core import config
from spotkit.core.submit import revision_of
from telemetry import count

_session = botocore.session.get_session()
batch = _session.create_client("batch", config=Config(retries={"mode": "standard", "max_attempts": 1}))

#: Error codes with which AWS APIs say "slow down"; SubmitJob's is TooManyRequestsException (429)
#: (https://docs.aws.amazon.com/batch/latest/APIReference/CommonErrors.html).
THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
#: Backoff of throttled SubmitJob calls: full jitter, base and ceiling in seconds.
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_MAX_SECONDS = 5.0
#: Time kept back from the invocation's deadline for bookkeeping, in seconds.
DEADLINE_MARGIN_SECONDS = 5.0


@functools.lru_cache(maxsize=None)
def aws_client(service: str):
    """A botocore client of the function's one session, created on first use: a second session
    (boto3's default, which Powertools would otherwise create for DynamoDB) reloads botocore's
    endpoint data and costs ~50 ms of the first record."""
    return _session.create_client(service)


def sns():
    """The SNS client (only alerts need it)."""
    return aws_client("sns")


class SubmitThrottled(Exception):
    """SubmitJob was still throttled when the invocation's time for backing off ran out."""


class NoActiveRevision(Exception):
    """The job's job-definition revision is INACTIVE and its family has no ACTIVE revision left."""


class Pacer:
    """Spaces SubmitJob calls ``1 / SPOTKIT_SUBMIT_JOB_RATE`` seconds apart within this execution
    environment (it runs one invocation at a time, so this is the per-invocation rate).

    Args:
        clock: monotonic clock in seconds; sleep: blocks for seconds (both injectable for tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.clock, self.sleep = clock, sleep
        self.next_slot = 0.0

    def wait(self, rate: float | None = None) -> None:
        """Block until the next slot at ``rate`` calls per second (default: the configured rate; 0 = unpaced)."""
        rate = config.submit_job_rate() if rate is None else rate
        if rate <= 0:
            return
        now = self.clock()
        if self.next_slot > now:
            self.sleep(self.next_slot - now)
            now = self.next_slot
        self.next_slot = now + 1.0 / rate


pacer = Pacer()


def is_throttle(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError):
        return False
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return exc.response.get("Error", {}).get("Code") in THROTTLE_CODES or status == 429


def is_ambiguous(exc: BaseException) -> bool:
    """True when a failed SubmitJob may nevertheless have created the job (no definite answer)."""
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError)):
        return True
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500
    return False


def is_client_error(exc: BaseException) -> bool:
    """True for Batch's ``ClientException`` (HTTP 400: the request was refused as invalid)."""
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "ClientException"


def submit_job(request: dict[str, Any], remaining_seconds: Callable[[], float]) -> dict[str, Any]:
    """SubmitJob paced at ``SPOTKIT_SUBMIT_JOB_RATE``, with backoff (full jitter) on throttling.

    Args:
        request: SubmitJob keyword arguments.
        remaining_seconds: the invocation's remaining time, in seconds.

    Returns:
        The SubmitJob response (``jobId``, ``jobArn``, ``jobName``).

    Raises:
        SubmitThrottled: still throttled when the invocation's backoff time ran out.
        botocore.exceptions.ClientError / BotoCoreError: any other failure.
    """
    attempt = 0
    while True:
        pacer.wait()
        try:
            return batch.submit_job(**request)
        except ClientError as exc:
            if not is_throttle(exc):
                raise
            count("throttled")
            attempt += 1
            pause = random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt))
            if remaining_seconds() - pause < DEADLINE_MARGIN_SECONDS:
                raise SubmitThrottled(f"SubmitJob still throttled after {attempt} attempts") from exc
            time.sleep(pause)


def active_replacement(job_definition: str, cache: dict[str, str | None]) -> str | None:
    """When ``job_definition`` (ARN with revision) is INACTIVE, the ARN of the latest ACTIVE revision
    of its family; None when it is still ACTIVE.

    Terraform (``aws_batch_job_definition``) and CloudFormation deregister the previous revision on
    every change, and SubmitJob refuses an INACTIVE revision, so a job that started before a deploy
    cannot come back on its own revision (API_DescribeJobDefinitions.html: ``status`` ACTIVE |
    INACTIVE). Batch calls: one DescribeJobDefinitions for the revision, plus one (paginated) for
    the family when it is INACTIVE; ``cache`` (per invocation) keeps the answer per revision.

    Raises:
        NoActiveRevision: the revision is INACTIVE and the family has no ACTIVE revision.
        botocore.exceptions.ClientError / BotoCoreError: DescribeJobDefinitions failed.
    """
    if job_definition in cache:
        found = cache[job_definition]
    else:
        current = batch.describe_job_definitions(jobDefinitions=[job_definition]).get("jobDefinitions") or []
        found = None
        if not current or all(d.get("status") == "INACTIVE" for d in current):
            family, _ = revision_of(job_definition)
            active = []
            for page in batch.get_paginator("describe_job_definitions").paginate(jobDefinitionName=family,
                                                                                 status="ACTIVE"):
                active += [d for d in page.get("jobDefinitions") or [] if d.get("status") == "ACTIVE"]
            found = max(active, key=lambda d: int(d["revision"]))["jobDefinitionArn"] if active else ""
        cache[job_definition] = found
    if found == "":
        raise NoActiveRevision(f"job definition {job_definition} is INACTIVE and its family has no ACTIVE revision")
    return found
