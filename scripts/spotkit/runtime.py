"""Inside a job container: which ORIGINAL array index am I running?

Standard library only and no other spotkit import, so a job image can either ``pip install spotkit``
or vendor this one file (``python runtime.py index`` works as well as ``python -m spotkit.runtime index``).

Why this exists. AWS Batch tells an array child its index in ``AWS_BATCH_JOB_ARRAY_INDEX``: a bare
decimal integer (``"0"``, ``"1"``, ... -- not ``"<job id>:<index>"``, which is the child's *job id*,
so splitting the variable on ``':'`` as seed post 002 does raises ``IndexError``), set only in array
children, from 0 to size - 1, with array sizes 2..10,000 (AWS Batch User Guide, "Array jobs",
https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html). Every ``AWS_BATCH_*`` name is
reserved: users cannot set one in a job definition or in overrides ("AWS Batch job environment
variables", https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html). So when spotkit
resubmits array children lost to a Spot reclaim it cannot hand them their old index back under the
same name; it passes it in its own variables instead:

* ``SPOTKIT_ARRAY_INDEX=<n>`` -- one lost child comes back as a single (non-array) job;
* ``SPOTKIT_ARRAY_INDEX_MAP=<map>`` -- k >= 2 children of one parent lost together come back as ONE
  array job of size k, whose child ``i`` (``AWS_BATCH_JOB_ARRAY_INDEX=i``) runs original index
  ``decode_index_map(map)[i]``.

The map is compact ascending ranges (``"0-2,7,9-11"`` = ``[0, 1, 2, 7, 9, 10, 11]``) rather than a
JSON list because it travels in the container overrides, which ECS caps at 8,192 characters including
the JSON punctuation (ECS API Reference, RunTask ``overrides``,
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html; Batch fails such a job
with ``Container Overrides length must be at most 8192``). Whole lost instances lose neighbouring
indexes, which ranges collapse; a scattered set still grows ~5 characters per index, so whoever
builds a map must check its length against what is left of that budget.

Job code should call :func:`original_array_index` (or ``python -m spotkit.runtime index`` in shell)
and never read ``AWS_BATCH_JOB_ARRAY_INDEX`` directly: after a resubmission that variable is the
position in the *new* array job, not the work item the child was created for.
"""

from __future__ import annotations

import argparse
import operator
import os
import re
import sys
from typing import Iterable, List, Mapping, Optional

__all__ = [
    "ARRAY_INDEX_ENV",
    "ARRAY_INDEX_MAP_ENV",
    "BATCH_ARRAY_INDEX_ENV",
    "BATCH_ARRAY_SIZE_ENV",
    "MAX_ARRAY_SIZE",
    "ArrayIndexError",
    "decode_index_map",
    "encode_index_map",
    "main",
    "original_array_index",
]

#: Set by spotkit on a lone reclaimed array child resubmitted as a single job: its original index.
ARRAY_INDEX_ENV = "SPOTKIT_ARRAY_INDEX"
#: Set by spotkit on a group of reclaimed children resubmitted as one array job: new index -> original.
ARRAY_INDEX_MAP_ENV = "SPOTKIT_ARRAY_INDEX_MAP"
#: Set by AWS Batch in array children only: the child's index in ITS array job, a bare integer.
BATCH_ARRAY_INDEX_ENV = "AWS_BATCH_JOB_ARRAY_INDEX"
#: Set by AWS Batch in array children: the size of the array job the child belongs to.
BATCH_ARRAY_SIZE_ENV = "AWS_BATCH_JOB_ARRAY_SIZE"
#: AWS Batch's largest array size, so indexes are 0..9,999 and a map has at most 10,000 entries.
MAX_ARRAY_SIZE = 10_000

_ENTRY = re.compile(r"([0-9]+)(?:-([0-9]+))?")
_INTEGER = re.compile(r"[0-9]+")


class ArrayIndexError(ValueError):
    """An index variable is missing where required, malformed, or out of range.

    Attributes:
        variable: the environment variable at fault (e.g. ``"SPOTKIT_ARRAY_INDEX_MAP"``).
        value: its value as found, or None when it is missing.
    """

    def __init__(self, variable: str, value: Optional[str], problem: str):
        self.variable, self.value = variable, value
        shown = " is not set" if value is None else f"={_short(value)}"
        super().__init__(f"{variable}{shown}: {problem}")


def _short(text: str, limit: int = 80) -> str:
    """``repr(text)``, middle elided past ``limit`` characters (a 10,000-entry map is ~50 KB)."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[: limit // 2]) + f"...({len(text) - limit} more characters)..." + repr(text[-limit // 2:])


def _int(digits: str) -> int:
    """``int(digits)`` for ASCII digits, capped so absurdly long numbers stay cheap (and out of range)."""
    return int(digits) if len(digits) <= 18 else 10 ** 18


# ------------------------------------------------------------------------------------------ the map
def decode_index_map(text: str) -> List[int]:
    """Expand a compact index map, e.g. ``"0-2,7,9-11"`` -> ``[0, 1, 2, 7, 9, 10, 11]``.

    Grammar: entries joined by ``","``; an entry is ``N`` or ``A-B`` (inclusive, A <= B), decimal
    ASCII digits. Whitespace around the whole text is ignored; none is allowed inside it.

    Args:
        text: the map, as found in ``SPOTKIT_ARRAY_INDEX_MAP``.

    Returns:
        The original indexes in ascending order; position ``i`` is what new array child ``i`` runs.

    Raises:
        ValueError: empty text, bad syntax (spaces, empty entries, signs, non-digits), a negative
            number, a descending range (``5-3``), entries not strictly ascending or overlapping
            (``3,1`` or ``0-2,2``), an index above 9,999, or more than 10,000 entries in all
            (AWS Batch's array size limit,
            https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html).
    """
    if not isinstance(text, str):
        raise TypeError(f"index map must be a str, not {type(text).__name__}")
    body = text.strip()
    if not body:
        raise ValueError("index map is empty")
    out: List[int] = []
    for position, entry in enumerate(body.split(","), start=1):
        where = f"index map entry {position} {_short(entry)}"
        match = _ENTRY.fullmatch(entry)
        if match is None:
            if entry.startswith("-") or "--" in entry:
                raise ValueError(f"{where}: negative numbers are not allowed")
            raise ValueError(f"{where}: expected N or A-B (decimal digits, no spaces), ranges joined by ','")
        start = _int(match.group(1))
        end = _int(match.group(2)) if match.group(2) is not None else start
        if end < start:
            raise ValueError(f"{where}: descending range ({start} > {end})")
        if out and start <= out[-1]:
            raise ValueError(f"{where}: entries must be strictly ascending and must not overlap "
                             f"(starts at {start}, previous entry ends at {out[-1]})")
        if len(out) + (end - start + 1) > MAX_ARRAY_SIZE:
            raise ValueError(f"{where}: more than {MAX_ARRAY_SIZE:,} indexes in all "
                             "(AWS Batch's maximum array size)")
        if end >= MAX_ARRAY_SIZE:
            raise ValueError(f"{where}: index {match.group(match.lastindex)} is above {MAX_ARRAY_SIZE - 1} "
                             f"(array indexes run 0..{MAX_ARRAY_SIZE - 1})")
        out.extend(range(start, end + 1))
    return out


def encode_index_map(indexes: Iterable[int]) -> str:
    """The compact map of a set of original indexes, e.g. ``[9, 0, 1, 2, 7, 10, 2]`` -> ``"0-2,7,9-10"``.

    The input is treated as a SET: it is sorted and deduplicated (a redelivered event may name the
    same child twice), so the map is always ascending and new child ``i`` runs the i-th smallest
    original index, whatever order the caller listed them in. Runs of two or more consecutive
    indexes become ``A-B``. ``decode_index_map(encode_index_map(s)) == sorted(set(s))``.

    Args:
        indexes: original array indexes, ints 0..9,999 (``bool`` is refused).

    Returns:
        The map text; the caller checks it fits the 8,192-character container override budget.

    Raises:
        TypeError: an element is not an integer.
        ValueError: no indexes, a negative index, or one above 9,999.
    """
    values = set()
    for item in indexes:
        if isinstance(item, bool):
            raise TypeError(f"array index must be an int, not bool ({item!r})")
        try:
            value = operator.index(item)
        except TypeError:
            raise TypeError(f"array index must be an int, not {type(item).__name__} ({item!r})") from None
        if value < 0:
            raise ValueError(f"array index {value} is negative")
        if value >= MAX_ARRAY_SIZE:
            raise ValueError(f"array index {value} is above {MAX_ARRAY_SIZE - 1} "
                             f"(array indexes run 0..{MAX_ARRAY_SIZE - 1})")
        values.add(value)
    if not values:
        raise ValueError("cannot encode an empty set of array indexes")
    ordered = sorted(values)
    parts = []
    start = prev = ordered[0]
    for value in ordered[1:] + [None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if value is not None:
            start = prev = value
    return ",".join(parts)


# ------------------------------------------------------------------------------- the environment
def _get(environ: Mapping[str, str], name: str) -> Optional[str]:
    value = environ.get(name)
    return value if value is not None and value.strip() else None


def _index(environ: Mapping[str, str], name: str) -> int:
    raw = environ[name]
    if not _INTEGER.fullmatch(raw.strip()):
        hint = ""
        if ":" in raw:
            hint = " (it is a bare integer such as '3'; '<job id>:<index>' is an array child's job id)"
        raise ArrayIndexError(name, raw, f"expected a non-negative decimal integer{hint}")
    value = _int(raw.strip())
    if value >= MAX_ARRAY_SIZE:
        raise ArrayIndexError(name, raw, f"above {MAX_ARRAY_SIZE - 1} (array indexes run 0..{MAX_ARRAY_SIZE - 1})")
    return value


def original_array_index(environ: Optional[Mapping[str, str]] = None) -> Optional[int]:
    """The array index this job was ORIGINALLY created for, or None when it is not an array job.

    Resolution, first match wins (a variable that is unset or blank counts as absent):

    1. ``SPOTKIT_ARRAY_INDEX_MAP`` -- a regrouped resubmission of k >= 2 lost children: needs
       ``AWS_BATCH_JOB_ARRAY_INDEX`` = i (0 <= i < k) and returns ``decode_index_map(map)[i]``. When
       ``AWS_BATCH_JOB_ARRAY_SIZE`` is present it must equal k, or the map is not this job's.
    2. ``SPOTKIT_ARRAY_INDEX`` -- a lone lost child resubmitted as a single job: returns it.
    3. ``AWS_BATCH_JOB_ARRAY_INDEX`` -- an array child that was never resubmitted: returns it.
    4. None -- not an array job.

    ``AWS_BATCH_JOB_ARRAY_INDEX`` is a bare integer set by Batch only in array children; the
    ``AWS_BATCH_*`` prefix is reserved, so users cannot set it
    (https://docs.aws.amazon.com/batch/latest/userguide/job_env_vars.html). Indexes are 0..9,999
    (array sizes 2..10,000, https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html).

    Args:
        environ: the variables to read; defaults to ``os.environ``.

    Returns:
        The original index (int, 0..9,999) or None.

    Raises:
        ArrayIndexError: (a ValueError) naming the variable and value: the map is malformed; the map
            is set but ``AWS_BATCH_JOB_ARRAY_INDEX`` is missing or outside the map; the array size
            disagrees with the map; or an index variable is not a non-negative integer below 10,000.
    """
    env = os.environ if environ is None else environ
    text = _get(env, ARRAY_INDEX_MAP_ENV)
    if text is not None:
        try:
            originals = decode_index_map(text)
        except ValueError as exc:
            raise ArrayIndexError(ARRAY_INDEX_MAP_ENV, text, str(exc)) from None
        if _get(env, BATCH_ARRAY_INDEX_ENV) is None:
            raise ArrayIndexError(BATCH_ARRAY_INDEX_ENV, env.get(BATCH_ARRAY_INDEX_ENV),
                                  f"required with {ARRAY_INDEX_MAP_ENV}={_short(text)}; Batch sets it only in array "
                                  "children, so this map was carried into a job that is not an array child")
        position = _index(env, BATCH_ARRAY_INDEX_ENV)
        if position >= len(originals):
            raise ArrayIndexError(BATCH_ARRAY_INDEX_ENV, env[BATCH_ARRAY_INDEX_ENV],
                                  f"outside {ARRAY_INDEX_MAP_ENV}={_short(text)}, which has {len(originals)} entries "
                                  f"(valid positions 0..{len(originals) - 1})")
        if _get(env, BATCH_ARRAY_SIZE_ENV) is not None:
            size = env[BATCH_ARRAY_SIZE_ENV].strip()
            if not _INTEGER.fullmatch(size) or _int(size) != len(originals):
                raise ArrayIndexError(BATCH_ARRAY_SIZE_ENV, env[BATCH_ARRAY_SIZE_ENV],
                                      f"this array job's size does not match {ARRAY_INDEX_MAP_ENV}={_short(text)} "
                                      f"({len(originals)} entries)")
        return originals[position]
    if _get(env, ARRAY_INDEX_ENV) is not None:
        return _index(env, ARRAY_INDEX_ENV)
    if _get(env, BATCH_ARRAY_INDEX_ENV) is not None:
        return _index(env, BATCH_ARRAY_INDEX_ENV)
    return None


# ----------------------------------------------------------------------------------------- CLI
EXIT_NOT_ARRAY = 1
EXIT_MALFORMED = 2

_DESCRIPTION = """\
Print the ORIGINAL AWS Batch array index of this job, even after spotkit resubmitted it following a
Spot reclaim. Reads, first match wins: SPOTKIT_ARRAY_INDEX_MAP with AWS_BATCH_JOB_ARRAY_INDEX (a
regrouped resubmission), SPOTKIT_ARRAY_INDEX (a lone resubmitted child), AWS_BATCH_JOB_ARRAY_INDEX
(an array child never resubmitted)."""

_EPILOG = """\
exit status: 0 = the index is printed on stdout; 1 = not an array job (none of the variables set);
2 = a variable is malformed or inconsistent (message on stderr), or a usage error.

shell:  index=$(python -m spotkit.runtime index) || exit $?
never read AWS_BATCH_JOB_ARRAY_INDEX yourself, and never split it on ':' (it is a bare integer)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m spotkit.runtime", description=_DESCRIPTION, epilog=_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sub.add_parser("index", help="print the original array index (see exit status below)",
                   description=_DESCRIPTION, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    return parser


def main(argv: Optional[List[str]] = None, environ: Optional[Mapping[str, str]] = None) -> int:
    """The CLI; returns the exit status (0 printed, 1 not an array job, 2 malformed or usage error)."""
    _parser().parse_args(argv)  # only ``index`` exists; argparse exits 2 on anything else
    try:
        index = original_array_index(environ)
    except ArrayIndexError as exc:
        print(f"spotkit.runtime: {exc}", file=sys.stderr)
        return EXIT_MALFORMED
    if index is None:
        print(f"spotkit.runtime: not an array job: none of {ARRAY_INDEX_MAP_ENV}, {ARRAY_INDEX_ENV}, "
              f"{BATCH_ARRAY_INDEX_ENV} is set", file=sys.stderr)
        return EXIT_NOT_ARRAY
    print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
