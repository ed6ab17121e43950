"""SubmitJob throttling: a token bucket per account, answered the way AWS answers.

What AWS does: AWS Batch allows at most 50 API transactions per second per account and Region,
SubmitJob included; a call over the rate fails with HTTP 429, error code
``TooManyRequestsException``, message ``Too Many Requests`` (AWS Knowledge Center article
"aws-batch-requests-error", https://repost.aws/knowledge-center/aws-batch-requests-error; the quota
is also in the AWS Batch User Guide, "AWS Batch service quotas", service_limits.html). The SDKs treat that
code as a throttling error and retry it with backoff (AWS SDKs and Tools Reference Guide, "Retry
behavior", feature-retry-behavior.html; botocore's standard and adaptive modes list it among their
throttling codes).

The emulator keeps one bucket of ``burst`` tokens refilled at ``rate`` tokens per second; each
SubmitJob takes one token or is throttled. It counts accepted and throttled calls for benchmarks.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict

from moto.core.exceptions import AWSError


class TooManyRequestsException(AWSError):
    """Batch's throttling error: HTTP 429 with the REST-JSON error body
    ``{"__type": "TooManyRequestsException", "message": "Too Many Requests"}`` and the
    ``X-Amzn-ErrorType`` header; boto3 raises it as ``ClientError`` with
    ``Error.Code == "TooManyRequestsException"``."""

    TYPE = "TooManyRequestsException"
    STATUS = 429

    def __init__(self, message: str = "Too Many Requests"):
        super().__init__(message)


class SubmitJobThrottle:
    """A thread-safe token bucket for SubmitJob; call it at the start of each call.

    Args:
        rate: sustained calls per second; ``0`` (or less) disables throttling.
        burst: bucket size in calls (default: ``rate``, at least 1).
        clock: a monotonic clock in seconds (for tests).

    Raises:
        TooManyRequestsException: from ``__call__`` when the bucket is empty.

    ``accepted`` counts calls let through (they may still fail validation afterwards, as on AWS,
    where throttling comes first); ``throttled`` counts calls answered with HTTP 429.
    """

    def __init__(self, rate: float, burst: float = 0.0, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.burst = float(burst or max(1.0, self.rate))
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()
        self.accepted = 0
        self.throttled = 0

    def __call__(self) -> None:
        with self._lock:
            if self.rate <= 0:
                self.accepted += 1
                return
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens < 1.0:
                self.throttled += 1
                raise TooManyRequestsException()
            self._tokens -= 1.0
            self.accepted += 1

    def stats(self) -> Dict[str, float]:
        """``{"accepted": n, "throttled": n, "rate_per_second": r, "burst": b}``."""
        with self._lock:
            return {"accepted": self.accepted, "throttled": self.throttled, "rate_per_second": self.rate,
                    "burst": self.burst}
