"""The array index map of a regrouped resubmission, and where a child's original index comes from.

One codec: :func:`spotkit.runtime.decode_index_map` / :func:`spotkit.runtime.encode_index_map` (the
module job code reads its index with), re-exported here; this module adds what only the submitting
side needs: splitting a group so each array job fits Batch's and ECS's limits.
"""

from __future__ import annotations

from spotkit.runtime import (
    ARRAY_INDEX_ENV,
    ARRAY_INDEX_MAP_ENV,
    MAX_ARRAY_SIZE,
    decode_index_map,
    encode_index_map,
)

__all__ = ["ARRAY_INDEX_ENV", "ARRAY_INDEX_MAP_ENV", "MAX_ARRAY_SIZE", "MAX_INDEX_MAP_CHARS", "MIN_ARRAY_SIZE",
           "decode_index_map", "encode_index_map", "split_for_arrays"]

#: Longest index map put into one resubmitted array job (characters); larger groups are split. ECS
#: container overrides (how Batch passes the environment) are capped at 8,192 characters in total
#: (ECS API Reference, RunTask ``overrides``), and the job's own environment needs the rest.
MAX_INDEX_MAP_CHARS = 4096
#: AWS Batch array size limits (SubmitJob ``arrayProperties.size``; array_jobs.html): 2 to 10,000.
MIN_ARRAY_SIZE = 2


def split_for_arrays(indexes: list[int]) -> list[list[int]]:
    """Split original indexes into ascending chunks that each fit one array job: at most
    :data:`MAX_ARRAY_SIZE` children and :data:`MAX_INDEX_MAP_CHARS` characters of index map.

    The map length is kept up to date run by run (no re-encoding per index): linear in the number
    of indexes, which matters for a batch of up to 10,000 reclaimed children.
    """
    chunks: list[list[int]] = []
    current: list[int] = []
    length = 0  # len(encode_index_map(current))
    run_start = 0

    def run_text(first: int, last: int) -> int:
        return len(str(first)) if first == last else len(str(first)) + 1 + len(str(last))

    for index in sorted(set(indexes)):
        if current and index == current[-1] + 1:
            grown = length - run_text(run_start, current[-1]) + run_text(run_start, index)
            start_of_run = run_start
        else:
            grown = length + (1 if current else 0) + len(str(index))
            start_of_run = index
        if current and (len(current) + 1 > MAX_ARRAY_SIZE or grown > MAX_INDEX_MAP_CHARS):
            chunks.append(current)
            current, grown, start_of_run = [], len(str(index)), index
        current.append(index)
        length, run_start = grown, start_of_run
    if current:
        chunks.append(current)
    return chunks
