"""Batch job state-change events and their delivery to Lambda targets.

What AWS does:

* AWS Batch sends a "Batch Job State Change" event (source ``aws.batch``, ``resources`` = the
  job ARN, ``detail`` = the DescribeJobs JobDetail) to the default bus for every status change
  after submission (AWS Batch User Guide, "Job state change events", batch_job_events.html).
* EventBridge invokes a Lambda target asynchronously; Lambda retries a failed asynchronous
  invocation twice (Lambda Developer Guide, "Asynchronous invocation" → "Error handling"),
  then sends the event to the function's dead-letter queue or on-failure destination if one is
  configured, else drops it. Only events EventBridge cannot deliver go to the target's
  dead-letter queue (EventBridge User Guide, "Event retry policy and using dead-letter queues").

The emulator runs the deployed function's zip (handler and environment variables from its
configuration) in a subprocess with boto3 pointed back at the emulator. A function error is
logged, retried, then sent to the function's DLQ or on-failure destination, else dropped -- and
the drop is logged and counted (:class:`LambdaTargetDispatcher`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict

log = logging.getLogger("spotkit.emulator.events")

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")


def iso_time(value) -> str:
    """EventBridge's ``time`` field: ISO 8601 UTC with seconds (``2026-11-21T14:00:00Z``)."""
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


class BatchEventPublisher:
    """Puts job state changes on the default bus of moto's EventBridge backend."""

    def __init__(self, events_backend):
        self.events = events_backend

    def __call__(self, detail: dict) -> None:
        self.events.put_events([{
            "Source": "aws.batch",
            "DetailType": "Batch Job State Change",
            "Detail": json.dumps(detail),
            "Resources": [detail["jobArn"]],
        }])


class LambdaRunner:
    """Runs a deployed function's zip in a subprocess, like one asynchronous invocation.

    Args:
        endpoint: the emulator URL handed to the function as AWS_ENDPOINT_URL.
        cache_dir: where zips are unpacked (one folder per code sha256).
    """

    def __init__(self, endpoint: str, cache_dir: Path, region: str):
        self.endpoint, self.cache_dir, self.region = endpoint, cache_dir, region
        self._lock = threading.Lock()

    def _unpack(self, code: bytes) -> Path:
        digest = hashlib.sha256(code).hexdigest()[:16]
        dest = self.cache_dir / digest
        with self._lock:
            if not dest.exists():
                tmp = self.cache_dir / f".{digest}.{uuid.uuid4().hex}"
                tmp.mkdir(parents=True)
                with zipfile.ZipFile(io.BytesIO(code)) as zf:
                    zf.extractall(tmp)
                tmp.rename(dest)
        return dest

    def invoke(self, fn, event: dict) -> tuple:
        """Invoke ``fn`` (moto LambdaFunction) with ``event``; return ``(ok, detail)``.

        ``detail`` is the handler's whole return value as JSON when ``ok`` (callers such as the SQS
        poller parse it), else the last line of the error output.
        """
        code_dir = self._unpack(fn.code_bytes)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # The execution role's temporary credentials when the emulator enforces IAM
            # (spotkit.emulator.iam.Enforcer.credentials_for), else the unrestricted test keys.
            **(self.credentials(fn) if getattr(self, "credentials", None) else
               {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}),
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "AWS_LAMBDA_FUNCTION_ARN": fn.function_arn,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "SPOTKIT_LAMBDA_CODE_DIR": str(code_dir),
            "SPOTKIT_LAMBDA_HANDLER": fn.handler or "app.handler",
        }
        env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        try:
            proc = subprocess.run([sys.executable, str(BOOTSTRAP)], input=json.dumps(event), text=True,
                                  capture_output=True, env=env, timeout=float(fn.timeout or 3) + 30,
                                  cwd=code_dir)
        except subprocess.TimeoutExpired:
            return False, f"Task timed out after {fn.timeout} seconds"
        for line in proc.stderr.splitlines()[-40:]:
            log.info("[%s] %s", fn.function_name, line)
        if proc.returncode != 0:
            return False, (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        return True, proc.stdout.strip()


class LambdaTargetDispatcher:
    """Delivers rule matches to Lambda targets on a small worker pool, as EventBridge and Lambda do.

    What AWS does, and what the emulator does with it:

    * EventBridge hands the event to Lambda as an asynchronous invocation. Only an event it cannot
      deliver -- function missing, no permission, invocation throttled -- goes to the *target's*
      dead-letter queue (EventBridge User Guide, "Event retry policy and using dead-letter queues",
      eb-rule-dlq.html), with message attributes ERROR_CODE, ERROR_MESSAGE, RULE_ARN, TARGET_ARN.
      The emulator detects a missing function; permissions (resource-based policy) and throttling
      are not modelled.
    * Once delivered, errors returned by the function are Lambda's: it retries twice (or the
      function's ``MaximumRetryAttempts`` from PutFunctionEventInvokeConfig), then sends the event to
      the *function's* dead-letter queue (``DeadLetterConfig``; SQS: body = the event, attributes
      RequestID, ErrorCode, ErrorMessage) or its on-failure destination (SQS: an invocation record),
      else drops it (Lambda Developer Guide, "Asynchronous invocation" → "Error handling", and
      "Capturing records of asynchronous invocations" / invocation-async-retain-records.html).
      The emulator logs every drop and counts it.

    Args:
        retries: retries after the first failed invocation (AWS default for async: 2).
        backoff_seconds: wait before retry n is ``backoff_seconds * n`` (AWS waits 1 min, then 2).

    ``stats``: ``delivered``, ``failed_attempts`` (function errors, each invocation),
    ``dead_lettered`` (target DLQ: undeliverable), ``function_dead_lettered`` (function DLQ),
    ``on_failure`` (on-failure destination), ``dropped`` (function errors with nowhere to go, or a
    DLQ that could not be written).
    """

    def __init__(self, lambda_backend, sqs_backend, runner: LambdaRunner, retries: int = 2,
                 backoff_seconds: float = 1.0, workers: int = 4):
        self.lambda_backend, self.sqs, self.runner = lambda_backend, sqs_backend, runner
        self.retries, self.backoff = retries, backoff_seconds
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lambda-target")
        self.stats: Dict[str, int] = {"delivered": 0, "failed_attempts": 0, "dead_lettered": 0,
                                      "function_dead_lettered": 0, "on_failure": 0, "dropped": 0}

    def __call__(self, rule, target: dict, event: dict) -> None:
        event = dict(event)
        event["time"] = iso_time(event.get("time", time.time()))
        event.pop("ingestion-time", None)
        if target.get("Input"):
            payload = json.loads(target["Input"])
        else:
            payload = event
        self.pool.submit(self._deliver, rule.arn, target, payload)

    def _deliver(self, rule_arn: str, target: dict, event: dict) -> None:
        arn = target["Arn"]
        try:
            fn = self.lambda_backend.get_function(arn)
        except Exception as exc:  # function deleted: EventBridge cannot deliver → target DLQ
            log.error("rule %s: target %s not found (%s)", rule_arn, arn, exc)
            self._target_dead_letter(target, event, rule_arn, "ResourceNotFoundException", str(exc))
            return
        invoke_config = (getattr(fn, "event_invoke_config", None) or [None])[0]
        config = getattr(invoke_config, "config", None) or {}
        retries = int(config.get("MaximumRetryAttempts", self.retries))
        request_id = str(uuid.uuid4())
        error = ""
        for attempt in range(retries + 1):
            ok, detail = self.runner.invoke(fn, event)
            if ok:
                self.stats["delivered"] += 1
                log.info("rule %s → %s: delivered (attempt %d) %s", rule_arn.split("/")[-1], fn.function_name,
                         attempt + 1, detail[:300])
                return
            error = detail
            self.stats["failed_attempts"] += 1
            log.warning("rule %s → %s: invocation %d failed: %s", rule_arn.split("/")[-1], fn.function_name,
                        attempt + 1, detail)
            if attempt < retries:
                time.sleep(self.backoff * (attempt + 1))
        self._function_failure(fn, config, event, request_id, retries + 1, error)

    def _send(self, queue_arn: str, body: str, attrs: dict) -> bool:
        try:
            self.sqs.send_message(queue_name=queue_arn.split(":")[-1], message_body=body, message_attributes=attrs)
            return True
        except Exception:
            self.stats["dropped"] += 1
            log.exception("could not send to %s", queue_arn)
            return False

    def _target_dead_letter(self, target: dict, event: dict, rule_arn: str, code: str, message: str) -> None:
        """An undeliverable event → the target's DLQ (EventBridge's attributes), else dropped."""
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            self.stats["dropped"] += 1
            log.error("event %s could not be delivered to %s and the target has no DLQ: %s", event.get("id"),
                      target["Arn"], message)
            return
        attrs = {
            "ERROR_CODE": {"DataType": "String", "StringValue": code},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": (message or "unknown")[:1000]},
            "RULE_ARN": {"DataType": "String", "StringValue": rule_arn},
            "TARGET_ARN": {"DataType": "String", "StringValue": target["Arn"]},
        }
        if self._send(dlq, json.dumps(event), attrs):
            self.stats["dead_lettered"] += 1
            log.error("event %s sent to the target DLQ %s: %s", event.get("id"), dlq, message)

    def _function_failure(self, fn, config: dict, event: dict, request_id: str, invocations: int,
                          message: str) -> None:
        """Retries exhausted → the function's DLQ, else its on-failure destination, else dropped (logged)."""
        dlq = (fn.__dict__.get("_sk_dead_letter_config") or {}).get("TargetArn")
        on_failure = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if dlq and ":sqs:" in dlq:
            attrs = {
                "RequestID": {"DataType": "String", "StringValue": request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": (message or "unknown")[:1024]},
            }
            if self._send(dlq, json.dumps(event), attrs):
                self.stats["function_dead_lettered"] += 1
                log.error("event %s sent to %s's DLQ %s after %d invocations: %s", event.get("id"),
                          fn.function_name, dlq, invocations, message)
            return
        if on_failure and ":sqs:" in on_failure:
            record = {
                "version": "1.0",
                "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "requestContext": {"requestId": request_id, "functionArn": f"{fn.function_arn}:$LATEST",
                                   "condition": "RetriesExhausted", "approximateInvokeCount": invocations},
                "requestPayload": event,
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": {"errorMessage": message},
            }
            if self._send(on_failure, json.dumps(record), {}):
                self.stats["on_failure"] += 1
                log.error("event %s: invocation record sent to %s's on-failure destination %s: %s",
                          event.get("id"), fn.function_name, on_failure, message)
            return
        self.stats["dropped"] += 1
        log.error("event %s dropped: %s failed %d times and has no DLQ or on-failure destination (the "
                  "target's DLQ is only for events EventBridge cannot deliver): %s", event.get("id"),
                  fn.function_name, invocations, message)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
