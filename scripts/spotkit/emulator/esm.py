"""Lambda event source mappings for SQS queues: poll, batch, invoke, delete.

What AWS does (Lambda Developer Guide, "Using Lambda with Amazon SQS" (with-sqs.html), "Creating
and configuring an Amazon SQS event source mapping" (services-sqs-configure.html), "Configuring
scaling behavior for SQS event source mappings" (services-sqs-scaling.html), "Handling errors for
an SQS event source in Lambda" (services-sqs-errorhandling.html)):

* Lambda long-polls the queue and invokes the function synchronously with a batch of at most
  ``BatchSize`` messages (default 10). With ``MaximumBatchingWindowInSeconds`` > 0 it keeps
  gathering records until the batch is full or the window has passed; with 0 it invokes with what
  one poll returned. Received messages are in flight for the queue's visibility timeout.
* ``ScalingConfig.MaximumConcurrency`` (2-1000) caps the concurrent invocations of one mapping;
  without it the function's reserved concurrency (or the account's) is the cap. Lambda starts
  with five concurrent batches, which the emulator uses as its default.
* The event is ``{"Records": [...]}``, one record per message: ``messageId``, ``receiptHandle``,
  ``body``, ``attributes`` (``ApproximateReceiveCount``, ``SentTimestamp``, ``SenderId``,
  ``ApproximateFirstReceiveTimestamp``; FIFO adds ``SequenceNumber``, ``MessageGroupId``,
  ``MessageDeduplicationId``), ``messageAttributes`` (``stringValue``/``binaryValue``,
  ``stringListValues``, ``binaryListValues``, ``dataType``), ``md5OfBody``, ``eventSource``
  ``aws:sqs``, ``eventSourceARN`` and ``awsRegion``.
* The function succeeds → Lambda deletes the batch. The function fails → nothing is deleted; the
  messages become visible again after the visibility timeout and the queue's redrive policy
  (``maxReceiveCount`` → dead-letter queue) applies on later receives.
* With ``FunctionResponseTypes: ["ReportBatchItemFailures"]`` the function returns
  ``{"batchItemFailures": [{"itemIdentifier": "<messageId>"}]}``; Lambda deletes every other
  message. An empty or null list, or an empty/null response, means complete success; a response
  that is not valid JSON, an empty or null ``itemIdentifier``, an entry without the key or an
  identifier that is not in the batch means the whole batch failed.

moto stores mappings but does not poll (it would invoke in Docker on SendMessage, which
:mod:`spotkit.emulator.patches` turns off). moto's SQS backend applies the visibility timeout and
moves a message to the redrive DLQ on the first receive after ``ApproximateReceiveCount`` has
reached ``maxReceiveCount`` -- the same rule as SQS (Amazon SQS Developer Guide, "Using
dead-letter queues in Amazon SQS", sqs-dead-letter-queues.html) -- so the poller relies on it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from spotkit.emulator.events import LambdaRunner

log = logging.getLogger("spotkit.emulator.esm")

#: Lambda's starting number of concurrent batches per SQS mapping.
DEFAULT_CONCURRENCY = 5
#: SQS ReceiveMessage returns at most this many messages per call.
RECEIVE_MAX = 10
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


def _message_attribute(value: dict) -> dict:
    """An SQS message attribute as Lambda puts it in a record (lowerCamelCase keys)."""
    out = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType", "String")}
    if value.get("StringValue") is not None:
        out["stringValue"] = value["StringValue"]
    if value.get("BinaryValue") is not None:
        raw = value["BinaryValue"]
        out["binaryValue"] = raw if isinstance(raw, str) else base64.b64encode(raw).decode("ascii")
    return out


def sqs_record(message, queue_arn: str, region: str) -> dict:
    """The Lambda event record for one received moto SQS ``Message`` (see the module docstring)."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": str(message.sender_id),
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    trace = (message.system_attributes or {}).get("AWSTraceHeader")
    if trace:
        attributes["AWSTraceHeader"] = trace.get("StringValue", "") if isinstance(trace, dict) else str(trace)
    if queue_arn.endswith(".fifo"):
        attributes.update({"SequenceNumber": str(message.sequence_number or ""),
                           "MessageGroupId": message.group_id or "",
                           "MessageDeduplicationId": message.deduplication_id or ""})
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {k: _message_attribute(v) for k, v in (message.message_attributes or {}).items()},
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_item_ids(response: str, message_ids: List[str]) -> Tuple[Optional[set], str]:
    """Parse a partial batch response.

    Args:
        response: the function's return value as JSON text (``""`` for none).
        message_ids: the ``messageId`` of every record in the batch.

    Returns:
        ``(ids, why)``: the message IDs to keep (an empty set for complete success), or
        ``(None, why)`` when Lambda treats the whole batch as failed.
    """
    if not response.strip():
        return set(), ""
    try:
        body = json.loads(response)
    except ValueError:
        return None, "the response is not valid JSON"
    if not isinstance(body, dict) or body.get("batchItemFailures") is None:
        return set(), ""
    failures = body["batchItemFailures"]
    if not isinstance(failures, list):
        return None, "batchItemFailures is not a list"
    ids = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or not isinstance(ident, str):
            return None, f"invalid batch item failure {item!r}"
        if ident not in message_ids:
            return None, f"itemIdentifier {ident!r} is not a messageId of the batch"
        ids.add(ident)
    return ids, ""


@dataclass
class _Mapping:
    """Poller state of one mapping: invocations in flight and records gathered for the next batch."""

    in_flight: int = 0
    buffer: list = field(default_factory=list)
    window_started: Optional[float] = None


class SqsEventSourcePoller:
    """Polls every enabled SQS event source mapping of one Lambda backend and invokes its function.

    Call :meth:`tick` periodically from one thread (or :meth:`start` a thread that does); the
    invocations run on a worker pool, at most ``ScalingConfig.MaximumConcurrency`` (else
    :data:`DEFAULT_CONCURRENCY`, capped by the function's reserved concurrency) per mapping.

    Args:
        lambda_backend: moto's LambdaBackend for the account/region.
        sqs_backend: moto's SQSBackend for the same account/region.
        runner: runs the function's zip (:class:`~spotkit.emulator.events.LambdaRunner`).
        region: the ``awsRegion`` of the records.
        poll_seconds: period of the polling round, seconds.
        workers: size of the invocation pool shared by all mappings.

    ``stats`` counts ``batches`` (invocations), ``records`` (records delivered), ``deleted``,
    ``function_errors``, ``item_failures`` (records a partial batch response kept) and
    ``invalid_responses`` (partial batch responses that failed the whole batch).
    """

    def __init__(self, lambda_backend, sqs_backend, runner: LambdaRunner, region: str,
                 poll_seconds: float = 0.1, workers: int = 16):
        self.lambda_backend, self.sqs, self.runner, self.region = lambda_backend, sqs_backend, runner, region
        self.poll_seconds = poll_seconds
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sqs-esm")
        self.stats: Dict[str, int] = {"batches": 0, "records": 0, "deleted": 0, "function_errors": 0,
                                      "item_failures": 0, "invalid_responses": 0}
        self._state: Dict[str, _Mapping] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._missing: set = set()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "SqsEventSourcePoller":
        self._thread = threading.Thread(target=self._loop, name="sqs-event-sources", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except Exception:  # keep polling; the log says what broke
                log.exception("SQS event source poll failed")
            self._stop.wait(max(0.0, self.poll_seconds - (time.monotonic() - started)))

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------ polling
    def _queue(self, arn: str):
        for queue in list(self.sqs.queues.values()):
            if queue.queue_arn == arn:
                return queue
        return None

    def _concurrency(self, esm, fn) -> int:
        limit = int((esm.scaling_config or {}).get("MaximumConcurrency") or DEFAULT_CONCURRENCY)
        reserved = getattr(fn, "reserved_concurrency", None)
        if reserved is not None and str(reserved) != "":
            limit = min(limit, int(reserved))
        return limit

    def tick(self) -> None:
        """One polling round over every mapping (see the class docstring)."""
        mappings = [m for m in list(self.lambda_backend._event_source_mappings.values())
                    if m.event_source_arn.split(":")[2] == "sqs"]
        live = {m.uuid for m in mappings}
        with self._lock:
            for gone in set(self._state) - live:
                if not self._state[gone].in_flight:
                    del self._state[gone]
        for esm in mappings:
            if esm.enabled:
                self._poll(esm)

    def _poll(self, esm) -> None:
        queue = self._queue(esm.event_source_arn)
        try:
            fn = self.lambda_backend.get_function(esm.function_arn)
        except Exception:
            fn = None
        if queue is None or fn is None:
            if esm.uuid not in self._missing:
                self._missing.add(esm.uuid)
                log.error("event source mapping %s: %s not found; not polling", esm.uuid,
                          esm.event_source_arn if queue is None else esm.function_arn)
            return
        self._missing.discard(esm.uuid)
        gate = getattr(self, "gate", None)  # the execution role may read the queue (spotkit.emulator.iam)
        if gate is not None and not gate(esm, fn, queue):
            return
        with self._lock:
            state = self._state.setdefault(esm.uuid, _Mapping())
        limit = self._concurrency(esm, fn)
        batch_size = int(esm.batch_size)
        window = float(esm.max_batch_window or 0)
        while True:
            with self._lock:
                if state.in_flight >= limit:
                    return
            while len(state.buffer) < batch_size:
                got = self.sqs.receive_message(queue.name, min(RECEIVE_MAX, batch_size - len(state.buffer)), 0,
                                               queue.visibility_timeout, ["All"])
                if not got:
                    break
                state.buffer.extend(got)
                if state.window_started is None:
                    state.window_started = time.monotonic()
                if window <= 0:
                    break  # no batching window: invoke with what one poll returned
            if not state.buffer:
                return
            if len(state.buffer) < batch_size and time.monotonic() - state.window_started < window:
                return  # keep gathering until the window closes
            batch, state.buffer, state.window_started = state.buffer[:batch_size], state.buffer[batch_size:], None
            with self._lock:
                state.in_flight += 1
            self.pool.submit(self._invoke, esm, fn, queue, state, batch)

    # ------------------------------------------------------------ invocation
    def _invoke(self, esm, fn, queue, state: _Mapping, batch: list) -> None:
        try:
            self._deliver(esm, fn, queue, batch)
        except Exception:
            log.exception("event source mapping %s: delivery to %s failed", esm.uuid, fn.function_name)
        finally:
            with self._lock:
                state.in_flight -= 1

    def _deliver(self, esm, fn, queue, batch: list) -> None:
        event = {"Records": [sqs_record(m, queue.queue_arn, self.region) for m in batch]}
        ids = [m.id for m in batch]
        ok, detail = self.runner.invoke(fn, event)
        with self._lock:
            self.stats["batches"] += 1
            self.stats["records"] += len(batch)
        name = fn.function_name
        if not ok:
            with self._lock:
                self.stats["function_errors"] += 1
            log.warning("SQS %s → %s: function error on a batch of %d, messages stay for retry: %s",
                        queue.name, name, len(batch), detail)
            return
        keep: set = set()
        if REPORT_BATCH_ITEM_FAILURES in (esm.function_response_types or []):
            parsed, why = failed_item_ids(detail, ids)
            if parsed is None:
                with self._lock:
                    self.stats["invalid_responses"] += 1
                log.warning("SQS %s → %s: invalid partial batch response (%s); the whole batch of %d stays",
                            queue.name, name, why, len(batch))
                return
            keep = parsed
        deleted = 0
        for message in batch:
            if message.id in keep:
                continue
            try:
                self.sqs.delete_message(queue.name, message.receipt_handle)
                deleted += 1
            except Exception as exc:  # queue deleted, or the handle expired and was reissued
                log.warning("SQS %s: could not delete message %s: %s", queue.name, message.id, exc)
        with self._lock:
            self.stats["deleted"] += deleted
            self.stats["item_failures"] += len(keep)
        log.info("SQS %s → %s: batch of %d processed, %d deleted, %d reported failed %s", queue.name, name,
                 len(batch), deleted, len(keep), sorted(keep) if keep else "")
