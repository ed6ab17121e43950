"""functions/resubmit/reclaim.py index maps and array splitting, pure functions.

The function's encoder/decoder must agree with ``spotkit.runtime`` (the job-side reader, a
separate stdlib-only copy), and every chunk ``split_for_arrays`` makes must fit one array job.
"""

from __future__ import annotations

import random
import sys

import pytest
from conftest import FUNCTIONS_DIR
from spotkit import runtime


@pytest.fixture(scope="module")
def reclaim():
    sys.path.insert(0, str(FUNCTIONS_DIR / "resubmit"))
    try:
        import reclaim as module
        yield module
    finally:
        sys.path.remove(str(FUNCTIONS_DIR / "resubmit"))


def _samples(seed: int = 11):
    rng = random.Random(seed)
    for _ in range(200):
        k = rng.choice([1, 2, 7, 300, 2500])
        span = rng.choice([k, 2 * k, 10_000])
        yield sorted(rng.sample(range(span), min(k, span)))


def test_function_and_runtime_agree_on_index_maps(reclaim):
    for indexes in _samples():
        text = reclaim.encode_index_map(indexes)
        assert text == runtime.encode_index_map(indexes)
        assert reclaim.decode_index_map(text) == runtime.decode_index_map(text) == indexes


def test_chunks_cover_every_index_once_and_fit_one_array_job(reclaim):
    for indexes in [*_samples(), list(range(25_000)), list(range(0, 60_000, 3))]:
        chunks = reclaim.split_for_arrays(indexes)
        assert [i for chunk in chunks for i in chunk] == indexes
        for chunk in chunks:
            assert len(chunk) <= reclaim.MAX_ARRAY_SIZE
            assert len(reclaim.encode_index_map(chunk)) <= reclaim.MAX_INDEX_MAP_CHARS
        for first, second in zip(chunks, chunks[1:]):  # a chunk closes only when the next index would not fit
            trial = first + second[:1]
            assert len(trial) > reclaim.MAX_ARRAY_SIZE or \
                len(reclaim.encode_index_map(trial)) > reclaim.MAX_INDEX_MAP_CHARS


def test_contiguous_children_split_at_the_array_size_limit(reclaim):
    assert [len(c) for c in reclaim.split_for_arrays(list(range(25_000)))] == [10_000, 10_000, 5_000]
