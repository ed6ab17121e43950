"""`spotkit bench` end to end at a tiny scale: its own emulator, the real function zip, the report.

Runs the CLI as a user does (``SPOTKIT_HOME`` = a scratch folder, so the developer's reports and
emulators are untouched) with 20 burst jobs and a 40-child array losing 20 children, and asserts
what the benchmarks promise: nothing lost, nothing duplicated, index maps exact, the Batch calls
counted per action for the function and consistent with the emulator's other counters, the cold
start timed through the first record (import, then an AWS-shaped record handled against a local
endpoint), the report's fields, and no emulator left running (``integration``: starts emulators).
The helpers the numbers rest on (calls cross-check, importtime breakdown, the cold start's event)
are unit-tested on fixed inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

integration = pytest.mark.integration

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


@integration
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


@integration
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


@integration
def test_calls_are_counted_per_action_for_the_function_only(bench_run):
    home, _ = bench_run
    report = json.loads((home / "reports" / "bench-latest.json").read_text())
    calls, burst = report["results"]["calls"], report["results"]["burst"]
    # the harness itself submitted 20 jobs and listed/described many: none of that is the function's
    assert calls["by_action"]["SubmitJob"] == burst["submit_job_calls"] >= 20
    assert set(calls["by_action"]) <= {"SubmitJob", "DescribeJobs", "ListJobs", "DescribeJobDefinitions",
                                       "TagResource"}
    # the function reads the failed jobs: one DescribeJobs per 100 records of each invocation (>= 1)
    esm = burst["event_source_mapping"]
    most = esm["batches"] + (esm["records"] - esm["batches"]) // 100
    assert esm["batches"] <= calls["by_action"]["DescribeJobs"] <= most
    assert calls["check"]["problems"] == [] and calls["check"]["describe_jobs"] == calls["by_action"]["DescribeJobs"]
    assert calls["per_resubmitted_job"] == pytest.approx(calls["total"] / 20, rel=1e-2)
    assert sum(calls["per_resubmitted_job_by_action"].values()) == pytest.approx(calls["per_resubmitted_job"], abs=2e-3)
    assert calls["per_resubmitted_job_by_action"]["DescribeJobs"] == pytest.approx(
        calls["by_action"]["DescribeJobs"] / 20, abs=1e-4)


@integration
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


@integration
def test_cold_start_is_timed_through_the_first_record(bench_run):
    home, _ = bench_run
    report = json.loads((home / "reports" / "bench-latest.json").read_text())
    imp = report["results"]["import"]
    for r in (imp, imp["compiled"]):  # the source-only zip, then the same zip + .pyc
        assert r["runs"] == 2
        # every run handled its record: one DescribeJobs, the claim, one SubmitJob, the claim completed
        assert r["calls_per_run"] == {"batch:DescribeJobs": 1, "dynamodb:PutItem": 1, "batch:SubmitJob": 1,
                                      "dynamodb:UpdateItem": 1}
        wall = r["wall"]
        assert all(len(wall[k]["samples_ms"]) == 2 for k in wall)
        for i in range(2):
            assert wall["init"]["samples_ms"][i] == pytest.approx(
                wall["import"]["samples_ms"][i] + wall["first_record"]["samples_ms"][i], abs=0.2)
            assert 0 < wall["endpoint_round_trips"]["samples_ms"][i] < wall["first_record"]["samples_ms"][i]
        assert wall["import"]["min_ms"] <= wall["import"]["median_ms"] <= wall["import"]["max_ms"]
        assert r["cpu"]["init_cpu"]["median_ms"] > 0
    assert imp["has_bytecode"] is False and imp["compiled"]["has_bytecode"] is True
    assert set(imp["breakdown"]) == {"import", "first_record"} and "function modules" in imp["breakdown"]["import"]
    targeted = [r for r in report["rows"] if r["benchmark"] == "import" and r["target"] == "<= 300"]
    compiled = f"+ .pyc for {imp['compiled']['compile_for']}"
    assert [r["measure"].split(":")[0] for r in targeted] == ["source only", compiled]


# ------------------------------------------------------------------------- helpers, no emulator

def test_calls_check_accepts_one_describe_per_100_records_of_an_invocation():
    from spotkit.bench.scenarios import check_calls

    # 3 invocations of 250 records: 3 DescribeJobs at least (one each), 3 * ceil(250 / 100) = 9 at most
    esm = {"batches": 3, "records": 750}
    ok = check_calls({"DescribeJobs": 9, "SubmitJob": 752}, {"accepted": 750, "throttled": 2}, esm)
    assert ok["problems"] == [] and ok["describe_jobs_bounds"] == [3, 10]
    assert check_calls({"DescribeJobs": 3, "SubmitJob": 750}, {"accepted": 750}, esm)["problems"] == []


@pytest.mark.parametrize("calls, submit, problem", [
    # an invocation read nothing; one DescribeJobs per job; the counter missed them; SubmitJob miscounted
    ({"DescribeJobs": 2, "SubmitJob": 750}, {"accepted": 750}, "DescribeJobs 2 outside [3, 10]"),
    ({"DescribeJobs": 750, "SubmitJob": 750}, {"accepted": 750}, "DescribeJobs 750 outside"),
    ({"SubmitJob": 750}, {"accepted": 750}, "DescribeJobs 0 outside"),
    ({"DescribeJobs": 3, "SubmitJob": 700}, {"accepted": 690, "throttled": 60}, "SubmitJob calls (700) differ"),
])
def test_calls_check_reports_inconsistent_counters(calls, submit, problem):
    from spotkit.bench.scenarios import check_calls

    problems = check_calls(calls, submit, {"batches": 3, "records": 750})["problems"]
    assert len(problems) == 1 and problem in problems[0]


_IMPORTTIME = """import time: self [us] | cumulative | imported package
spotkit-probe: import
import time:      5000 |       5000 |       asyncio.base_events
import time:      1000 |       6000 |     asyncio
import time:      2000 |       8000 |   aws_lambda_powertools.utilities.batch
import time:     40000 |      40000 |       ssl
import time:     30000 |      70000 |     botocore.session
import time:     90000 |     160000 |   batchapi
import time:      3000 |     171000 | app
spotkit-probe: first record
import time:     20000 |      20000 |     boto3.session
import time:      4000 |      24000 |   aws_lambda_powertools.utilities.idempotency
import time:       500 |        500 | hashlib
"""


def test_importtime_breakdown_charges_stdlib_to_its_importer():
    from spotkit.bench.coldstart import importtime_breakdown

    where = importtime_breakdown(_IMPORTTIME, {"import": 0.2, "first_record": 0.1})
    assert where["import"] == {"function modules": 93.0, "botocore": 70.0, "not importing": 29.0,
                               "aws_lambda_powertools": 8.0}
    assert where["first_record"] == {"not importing": 75.5, "boto3": 20.0, "aws_lambda_powertools": 4.0,
                                     "stdlib": 0.5}
    assert list(where["import"]) == ["function modules", "botocore", "not importing", "aws_lambda_powertools"]


def test_cold_start_record_is_the_aws_event_re_pointed_at_the_job():
    from fidelity import shapes
    from spotkit.bench import coldstart

    template = coldstart.event_template(REPO)
    arn = "arn:aws:batch:us-east-1:123456789012:job/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    job = {"jobArn": arn, "jobId": arn.rsplit("/", 1)[1], "jobName": "coldstart-000", "createdAt": 1700000000000,
           "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/q",
           "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/d:1", "tags": {"team": "bench"}}
    event = coldstart.reclaim_event(template, job)
    assert shapes.compare(event, template) == []  # the captured shape, key for key
    detail = event["detail"]
    assert detail["tags"] == {"resourceArn": arn} and event["resources"] == [arn]  # AWS's placeholder, not the job's
    assert (detail["jobId"], detail["jobQueue"], detail["jobDefinition"]) == (job["jobId"], job["jobQueue"],
                                                                              job["jobDefinition"])
    assert event["region"] == "us-east-1" and "timeout" not in detail
    assert detail["statusReason"].startswith("Host EC2 (instance ")
    assert template["detail"]["jobId"] != job["jobId"]  # the template is left alone
    batch = coldstart.sqs_batch(event, "arn:aws:sqs:us-east-1:123456789012:q")
    (record,) = batch["Records"]
    assert json.loads(record["body"]) == event and record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "us-east-1"
