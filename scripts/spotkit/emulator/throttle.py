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

:class:`BatchApiCalls` counts every Batch API request by action and caller (the functions the
emulator runs, told apart by their User-Agent, or anyone else), so a benchmark can divide the Batch
calls a Lambda function made by the jobs it resubmitted.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict

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
        clock: a monotonic clock in seconds (inject one to test the bucket deterministically).

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
            if self._tokens < 1.0 - 1e-9:  # tolerance: 0.1 s x 50/s may sum to 4.999... tokens
                self.throttled += 1
                raise TooManyRequestsException()
            self._tokens -= 1.0
            self.accepted += 1

    def stats(self) -> Dict[str, float]:
        """``{"accepted": n, "throttled": n, "rate_per_second": r, "burst": b}``."""
        with self._lock:
            return {"accepted": self.accepted, "throttled": self.throttled, "rate_per_second": self.rate,
                    "burst": self.burst}


#: botocore appends ``exec-env/$AWS_EXECUTION_ENV`` to its User-Agent; Lambda (and the emulator's
#: Lambda runner) sets ``AWS_EXECUTION_ENV=AWS_Lambda_<runtime>``.
LAMBDA_USER_AGENT_MARK = "exec-env/AWS_Lambda"


class BatchApiCalls:
    """Thread-safe counter of Batch API requests: ``{caller: {action: n}}``.

    ``caller`` is ``"lambda"`` when the request's User-Agent carries :data:`LAMBDA_USER_AGENT_MARK`
    (a function run by the emulator: boto3 inside it sets it from ``AWS_EXECUTION_ENV``), else
    ``"other"`` (Terraform, the CLI, tests, benchmarks). Every request counts, including SubmitJob
    calls answered with 429 and calls that fail validation. ``action`` is the API operation name
    (``SubmitJob``, ``DescribeJobs``, ``ListJobs``, ``TagResource``, ...).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Dict[str, Dict[str, int]] = {"lambda": {}, "other": {}}
        self._names: Dict[str, str] = {}

    def _operation(self, action: str) -> str:
        """moto routes Batch by URL (``submitjob``); name it as the API does (``SubmitJob``)."""
        if not self._names:
            import botocore.session

            model = botocore.session.get_session().get_service_model("batch")
            self._names = {name.lower(): name for name in model.operation_names}
        return self._names.get(action.lower(), action)

    def record(self, action: str, user_agent: str) -> None:
        caller = "lambda" if LAMBDA_USER_AGENT_MARK in (user_agent or "") else "other"
        action = self._operation(action)
        with self._lock:
            per = self._counts[caller]
            per[action] = per.get(action, 0) + 1

    def stats(self) -> Dict[str, Dict[str, int]]:
        """``{"lambda": {action: n}, "other": {action: n}}`` (a copy)."""
        with self._lock:
            return {caller: dict(sorted(per.items())) for caller, per in self._counts.items()}


def count_batch_calls(counter: BatchApiCalls, response_class: Any = None) -> Callable[[], None]:
    """Count every request moto's Batch API (or the API of ``response_class``, e.g. EventBridge's
    ``EventsHandler``) answers in ``counter`` (wraps ``call_action``, which runs once per HTTP request
    after routing). Returns a function that removes the wrapper."""
    if response_class is None:
        from moto.batch.responses import BatchResponse

        response_class = BatchResponse
    BatchResponse = response_class

    original = BatchResponse.call_action

    def call_action(self) -> Any:
        try:
            counter.record(self._get_action() or "unknown", self.headers.get("User-Agent", ""))
        except Exception:  # counting must never break the API
            pass
        return original(self)

    BatchResponse.call_action = call_action

    def uninstall() -> None:
        if BatchResponse.call_action is call_action:
            BatchResponse.call_action = original

    return uninstall
