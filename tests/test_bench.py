"""`spotkit bench` end to end at a tiny scale: its own emulator, the real function zip, the report.

Runs the CLI as a user does (``SPOTKIT_HOME`` = a scratch folder, so the developer's reports and
emulators are untouched) with 20 burst jobs and a 40-child array losing 20 children, and asserts
what the benchmarks promise: nothing lost, nothing duplicated, index maps exact, the Batch calls
counted per action for the function, the report's fields, and no emulator left running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    from spotkit.package import build

    home = tmp_path_factory.mktemp("bench-home")
    zip_path = build(REPO / "functions" / "resubmit", home / "build", cache_dir=REPO / ".spotkit" / "vendor-cache")
    env = {**os.environ, "SPOTKIT_HOME": str(home), "SPOTKIT_TOOLS": str(REPO / ".tools"), "NO_COLOR": "1",
           "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "spotkit.cli", "bench", "--jobs", "20", "--array-size", "40", "--reclaim", "20",
         "--children-per-host", "10", "--batch-size", "50", "--window", "1", "--max-concurrency", "2",
         "--import-runs", "2", "--timeout", "180", "--zip", str(zip_path)],
        env=env, capture_output=True, text=True, timeout=900)
    return home, proc


def test_bench_exits_cleanly_and_writes_both_reports(bench_run):
    home, proc = bench_run
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-5000:]}"
    latest = json.loads((home / "reports" / "bench-latest.json").read_text())
    assert (home / "reports" / f"{latest['run_id']}.json").is_file()
    for key in ("schema", "run_id", "started_at", "finished_at", "machine", "emulator", "pipeline", "zip",
                "config", "results", "rows", "correct", "targets_met"):
        assert key in latest, key
    assert latest["correct"] is True
    assert latest["pipeline"]["batch_size"] == 50 and latest["pipeline"]["maximum_concurrency"] == 2
    assert latest["emulator"] == {"execution": "hold", "submit_job_rate": 50.0}
    assert {r["benchmark"] for r in latest["rows"]} == {"burst", "calls", "array", "import"}
    assert "ratio to quota floor" in proc.stdout  # the table is printed
    assert not list((home / ".spotkit").glob("emulator-*/pid")), "an emulator was left running"


def test_burst_resubmits_every_job_exactly_once(bench_run):
    home, _ = bench_run
    burst = json.loads((home / "reports" / "bench-latest.json").read_text())["results"]["burst"]
    assert burst["failed_by_cut"] == 20
    assert burst["resubmitted"] == 20
    assert burst["lost"] == burst["duplicated"] == burst["successors_of_other_jobs"] == 0
    assert 0 < burst["seconds_to_first_resubmission"] <= burst["seconds_to_all_resubmitted"]
    assert burst["quota_floor_seconds"] == pytest.approx(20 / 50)
    assert burst["ratio_to_quota_floor"] == pytest.approx(burst["seconds_to_all_resubmitted"] / 0.4, rel=1e-2)
    assert burst["dlq_messages"] == 0


def test_calls_are_counted_per_action_for_the_function_only(bench_run):
    home, _ = bench_run
    report = json.loads((home / "reports" / "bench-latest.json").read_text())
    calls, burst = report["results"]["calls"], report["results"]["burst"]
    # the harness itself submitted 20 jobs and listed/described many: none of that is the function's
    assert calls["by_action"]["SubmitJob"] == burst["submit_job_calls"] >= 20
    assert set(calls["by_action"]) <= {"SubmitJob", "DescribeJobs", "ListJobs", "TagResource"}
    assert calls["per_resubmitted_job"] == pytest.approx(calls["total"] / 20, rel=1e-2)


def test_array_children_come_back_with_exact_index_maps(bench_run):
    home, _ = bench_run
    array = json.loads((home / "reports" / "bench-latest.json").read_text())["results"]["array"]
    assert (array["reclaimed_children"], array["surviving_children"]) == (20, 20)
    assert array["reclaimed_indexes_missing"] == array["reclaimed_indexes_duplicated"] == 0
    assert array["surviving_indexes_resubmitted"] == array["unknown_indexes"] == 0
    assert array["problems"] == []
    assert array["resubmitted_array_jobs"] >= 1
    assert sum(array["array_job_sizes"]) + array["resubmitted_single_jobs"] == 20
    assert array["submit_job_calls"] < 20


def test_cold_import_is_timed(bench_run):
    home, _ = bench_run
    imp = json.loads((home / "reports" / "bench-latest.json").read_text())["results"]["import"]
    assert imp["runs"] == 2 and len(imp["samples_ms"]) == 2 and imp["median_ms"] > 0
