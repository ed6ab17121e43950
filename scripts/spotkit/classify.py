"""What counts as a Spot reclaim, importable as ``spotkit.classify`` (the CLI's and docs' view).

A re-export of :mod:`spotkit.core.classify` -- the same code the resubmit function runs (``spotkit
package`` vendors :mod:`spotkit.core` into its zip), so the CLI, the chaos experiment and the
function always agree.

Example::

    from spotkit.classify import is_reclaim_reason
    is_reclaim_reason("Host EC2 (instance i-0123456789abcdef0) terminated.")  # True
"""

from __future__ import annotations

from spotkit.core.classify import (
    DEFAULT_RECLAIM_PATTERNS,
    RECLAIM_PATTERNS_ENV,
    Decision,
    classify,
    is_reclaim_reason,
    matching_pattern,
    reclaim_patterns,
)
from spotkit.core.job import MalformedEventError, parse_event

__all__ = [
    "DEFAULT_RECLAIM_PATTERNS",
    "RECLAIM_PATTERNS_ENV",
    "Decision",
    "MalformedEventError",
    "classify",
    "is_reclaim_reason",
    "matching_pattern",
    "parse_event",
    "reclaim_patterns",
]
