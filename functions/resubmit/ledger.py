"""Exactly-once bookkeeping: one Powertools idempotency record per failed job id.

The resubmission of a failed job is claimed before SubmitJob and completed with the new job's id
after it, in the DynamoDB table of Powertools for AWS Lambda's idempotency utility
(https://docs.powertools.aws.dev/lambda/python/latest/utilities/idempotency/): partition key ``id``
(string), TTL attribute ``expiration``, written with conditional puts by Powertools'
``DynamoDBPersistenceLayer``. The persistence layer is used directly rather than through the
``@idempotent_function`` decorator because one SubmitJob may settle many failed jobs at once (k
reclaimed children of one array job come back as one array job), and because the record key must
not depend on a Python function's module path (the decorator's key does): the key is
``<AWS_LAMBDA_FUNCTION_NAME>.spotkit.resubmit#<md5 of the failed job id>``.

Record life cycle (Powertools' statuses):

- ``claim`` writes INPROGRESS, expiring at the invocation's deadline (remaining time of the Lambda
  context). A concurrent or later claim of the same job id while it is INPROGRESS fails
  (:class:`Busy`); once the deadline has passed (the invocation died), the next claim takes it over.
- ``complete`` turns it COMPLETED with the result (kept for ``SPOTKIT_IDEMPOTENCY_TTL_SECONDS``);
  later claims get :class:`Done` with that result: a duplicate delivery.
- ``release`` deletes it after a failed SubmitJob, so the retry can claim again.

Without a table (``SPOTKIT_IDEMPOTENCY_TABLE`` empty) :class:`NoLedger` claims everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

#: Part of every record key; changing it forgets every recorded resubmission.
RECORD_NAMESPACE = "spotkit.resubmit"


@dataclass(frozen=True)
class Claimed:
    """The caller now owns the resubmission of this failed job."""


@dataclass(frozen=True)
class Done:
    """The failed job was resubmitted before; ``result`` is what :meth:`Ledger.complete` stored."""

    result: dict[str, Any]


@dataclass(frozen=True)
class Busy:
    """Another invocation holds the claim until ``until_ms`` (epoch milliseconds, or None if unknown)."""

    until_ms: int | None


Claim = Union[Claimed, Done, Busy]  # typing.Union: the runtime may be Python 3.9


class NoLedger:
    """No idempotency table: every claim succeeds (a duplicate delivery may resubmit twice)."""

    enabled = False

    def claim(self, job_id: str, remaining_ms: int | None) -> Claim:
        return Claimed()

    def complete(self, job_id: str, result: dict[str, Any]) -> None:
        return None

    def release(self, job_id: str, error: Exception) -> None:
        return None


class Ledger:
    """Per-failed-job records in the idempotency table ``table`` (see the module docstring).

    Args:
        table: DynamoDB table name (partition key ``id`` string, TTL attribute ``expiration``).
        ttl_seconds: how long a COMPLETED record is kept, in seconds.
        client: the DynamoDB client to use (a botocore client works); default: Powertools makes one.
    """

    enabled = True

    def __init__(self, table: str, ttl_seconds: int, client: Any = None) -> None:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

        self.table = table
        self.store = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
        self.store.configure(IdempotencyConfig(event_key_jmespath="jobId", expires_after_seconds=ttl_seconds,
                                               raise_on_no_idempotency_key=True),
                             function_name=RECORD_NAMESPACE)

    def claim(self, job_id: str, remaining_ms: int | None) -> Claim:
        """Claim the resubmission of ``job_id`` until ``remaining_ms`` from now.

        Raises:
            botocore.exceptions.ClientError: DynamoDB failed.
        """
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemAlreadyExistsError,
            IdempotencyItemNotFoundError,
        )

        data = {"jobId": job_id}
        try:
            self.store.save_inprogress(data=data, remaining_time_in_millis=remaining_ms)
            return Claimed()
        except IdempotencyItemAlreadyExistsError as exc:
            record = exc.old_data_record
            if record is None:
                try:
                    record = self.store.get_record(data=data)
                except IdempotencyItemNotFoundError:  # released in between: try once more
                    self.store.save_inprogress(data=data, remaining_time_in_millis=remaining_ms)
                    return Claimed()
        if record.status == "COMPLETED":
            return Done(record.response_json_as_dict() or {})
        return Busy(record.in_progress_expiry_timestamp)

    def complete(self, job_id: str, result: dict[str, Any]) -> None:
        """Mark ``job_id`` resubmitted, storing ``result`` (JSON-serialisable) for duplicates."""
        self.store.save_success(data={"jobId": job_id}, result=result)

    def release(self, job_id: str, error: Exception) -> None:
        """Delete the claim on ``job_id`` after a failed resubmission so a retry can claim it."""
        self.store.delete_record(data={"jobId": job_id}, exception=error)
