"""AWS Batch native retry rules, as the emulator applies them.

Source: AWS Batch User Guide, "Automated job retries" (job_retries.html) and "Job definition
parameters → retryStrategy" (job_definition_parameters.html):

* ``attempts`` is 1-10; a job gets at most that many attempts.
* ``evaluateOnExit`` holds up to 5 entries; each may set ``onStatusReason``, ``onReason``
  (matched against the container reason) and ``onExitCode``; every condition that is set must
  match. Patterns may end with ``*`` (prefix match); otherwise the match is exact. The first
  matching entry's ``action`` (RETRY or EXIT, case-insensitive) wins.
* If no entry matches, the job is retried (when attempts remain).
* Jobs that are cancelled, terminated, or time out are not retried.
"""

from __future__ import annotations

from typing import Optional


def glob_match(pattern: str, value: Optional[str]) -> bool:
    """Batch's pattern match: exact, or prefix when ``pattern`` ends with ``*``."""
    if value is None:
        value = ""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def should_retry(
    retry_strategy: Optional[dict],
    attempts_made: int,
    status_reason: Optional[str],
    container_reason: Optional[str] = None,
    exit_code: Optional[int] = None,
) -> bool:
    """Whether an attempt that just failed earns another attempt.

    Args:
        retry_strategy: ``{"attempts": int, "evaluateOnExit": [...]}`` or None (= 1 attempt).
        attempts_made: attempts already made, including the one that just failed.
        status_reason: the attempt's statusReason (e.g. ``Host EC2 (instance i-…) terminated.``).
        container_reason: the container's reason, if any.
        exit_code: the container's exit code, if it exited.
    """
    strategy = retry_strategy or {}
    attempts = int(strategy.get("attempts") or 1)
    if attempts_made >= attempts:
        return False
    for rule in strategy.get("evaluateOnExit") or []:
        checks = []
        if rule.get("onStatusReason") is not None:
            checks.append(glob_match(rule["onStatusReason"], status_reason))
        if rule.get("onReason") is not None:
            checks.append(glob_match(rule["onReason"], container_reason))
        if rule.get("onExitCode") is not None:
            checks.append(exit_code is not None and glob_match(rule["onExitCode"], str(exit_code)))
        if checks and all(checks):
            return str(rule.get("action", "")).upper() == "RETRY"
    return True
