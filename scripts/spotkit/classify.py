"""The resubmission function's classifier, importable as ``spotkit.classify``.

Single source of truth: ``functions/resubmit/reclaim.py`` (shipped inside the Lambda zip, which must
not depend on the ``spotkit`` package). This module loads that file, so the CLI, the chaos
experiment and the function always agree on what counts as a Spot reclaim and on the lineage tags.

Example::

    from spotkit.classify import is_reclaim_reason, TAG_ORIGINAL_JOB_ID
    is_reclaim_reason("Host EC2 (instance i-0123456789abcdef0) terminated.")  # True

Raises ImportError when the checkout has no functions/resubmit/reclaim.py.
"""

from __future__ import annotations

import importlib.util
import sys

from spotkit.paths import FUNCTIONS_DIR

_SOURCE = FUNCTIONS_DIR / "resubmit" / "reclaim.py"
_NAME = "spotkit._resubmit_reclaim"


def _load():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, _SOURCE)
    if spec is None or spec.loader is None or not _SOURCE.is_file():
        raise ImportError(f"resubmit classifier not found at {_SOURCE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module  # dataclasses need the module registered while executing
    spec.loader.exec_module(module)
    return module


_reclaim = _load()

DEFAULT_RECLAIM_PATTERNS = _reclaim.DEFAULT_RECLAIM_PATTERNS
RECLAIM_PATTERNS_ENV = _reclaim.RECLAIM_PATTERNS_ENV
TAG_ORIGINAL_JOB_ID = _reclaim.TAG_ORIGINAL_JOB_ID
TAG_PREVIOUS_JOB_ID = _reclaim.TAG_PREVIOUS_JOB_ID
TAG_RESUBMISSION_COUNT = _reclaim.TAG_RESUBMISSION_COUNT
ARRAY_INDEX_ENV = _reclaim.ARRAY_INDEX_ENV
Decision = _reclaim.Decision
MalformedEventError = _reclaim.MalformedEventError
parse_event = _reclaim.parse_event
classify = _reclaim.classify
is_reclaim_reason = _reclaim.is_reclaim_reason
matching_pattern = _reclaim.matching_pattern
reclaim_patterns = _reclaim.reclaim_patterns
build_submit_request = _reclaim.build_submit_request

__all__ = [
    "ARRAY_INDEX_ENV",
    "DEFAULT_RECLAIM_PATTERNS",
    "RECLAIM_PATTERNS_ENV",
    "TAG_ORIGINAL_JOB_ID",
    "TAG_PREVIOUS_JOB_ID",
    "TAG_RESUBMISSION_COUNT",
    "Decision",
    "MalformedEventError",
    "build_submit_request",
    "classify",
    "is_reclaim_reason",
    "matching_pattern",
    "parse_event",
    "reclaim_patterns",
]
