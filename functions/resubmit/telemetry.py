"""The function's Logger, Tracer and Metrics (Powertools for AWS Lambda), shared by every stage.

EMF metrics (namespace ``POWERTOOLS_METRICS_NAMESPACE``, default ``spotkit``): ``resubmitted``,
``fallback``, ``duplicate``, ``budget-exhausted``, ``skipped-not-spot``, ``skipped`` (other skips),
``malformed-event``, ``throttled``, ``array-groups``, ``recovered-submission``, ``failed``,
``revision-switched`` (moved to the latest ACTIVE job-definition revision), ``no-active-revision``,
``described-missing`` (DescribeJobs no longer returned the failed job), ``lineage-untagged`` (50
user tags: lineage in the ``SPOTKIT_LINEAGE`` environment variable), ``not-resubmittable`` (SubmitJob
refused the request, or it would break SubmitJob's limits), ``decision-events-published`` /
``decision-events-failed`` (the decision events PutEvents took / did not take, :mod:`publish`).
"""

from __future__ import annotations

import importlib.util
import os

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "spotkit-resubmit")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "spotkit")


class _NoTracer:
    """Stands in for Powertools ``Tracer`` when the X-Ray SDK is absent (even a disabled Tracer imports it)."""

    @staticmethod
    def capture_method(fn):
        return fn

    @staticmethod
    def capture_lambda_handler(fn):
        return fn


logger = Logger(service=SERVICE)
# The X-Ray SDK is neither in the Lambda Python runtime nor in this zip (it would double its size):
# trace only when a layer or the zip provides it (``pip install aws-lambda-powertools[tracer]``).
tracer = Tracer(service=SERVICE) if importlib.util.find_spec("aws_xray_sdk") else _NoTracer()
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


def count(name: str, value: int = 1) -> None:
    """Add ``value`` to the EMF count metric ``name``."""
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
