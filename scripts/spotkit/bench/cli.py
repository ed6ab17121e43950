"""``spotkit bench``: benchmarks of the resubmission pipeline on the local emulator.

Exit codes: 0 every benchmark ran and every correctness check passed (targets are reported, and
only fail the run with ``--strict``); 1 a benchmark failed, lost/duplicated/misplaced a job, or
(``--strict``) missed a target; 2 usage; 130 interrupted (the emulator was stopped).
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import click

BENCHMARKS = ("burst", "array", "calls", "import")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cold_start_compiled(zip_path: Path, runs: int, echo) -> dict:
    """The cold-start benchmark on ``zip_path`` plus pycs for this Python (``spotkit package --compile-for``)."""
    import tempfile

    from spotkit import package
    from spotkit.bench import coldstart

    runtime = package.running_runtime()
    echo(f"import: the same zip with bytecode for {runtime} (spotkit package --compile-for {runtime})")
    try:
        with tempfile.TemporaryDirectory(prefix="spotkit-bench-pyc-") as tmp:
            compiled, _ = package.add_bytecode(zip_path, Path(tmp) / zip_path.name, runtime)
            return {**coldstart.cold_start(compiled, runs=runs), "compile_for": runtime}
    except (coldstart.ColdStartError, package.PackageError) as exc:
        return {"error": str(exc)}


@click.command("bench")
@click.option("--only", "only", multiple=True, type=click.Choice(BENCHMARKS),
              help="Run only these benchmarks (repeatable; default: all). 'calls' is measured during 'burst'.")
@click.option("--jobs", type=click.IntRange(min=1), default=1000, show_default=True,
              help="burst: running single jobs killed by one Spot capacity cut.")
@click.option("--array-size", type=click.IntRange(min=2, max=10000), default=10000, show_default=True,
              help="array: children of the array job.")
@click.option("--reclaim", type=click.IntRange(min=1), default=3000, show_default=True,
              help="array: children lost with their hosts (a multiple of --children-per-host).")
@click.option("--children-per-host", type=click.IntRange(min=1), default=100, show_default=True,
              help="array: children packed on one instance (1 vCPU and 1/N of its memory each).")
@click.option("--batch-size", type=click.IntRange(min=1, max=10000), default=500, show_default=True,
              help="Event source mapping BatchSize (records per invocation).")
@click.option("--window", type=click.IntRange(min=0, max=300), default=1, show_default=True,
              help="Event source mapping MaximumBatchingWindowInSeconds (>= 1 when the batch size is above 10).")
@click.option("--max-concurrency", type=click.IntRange(min=2, max=1000), default=2, show_default=True,
              help="Event source mapping ScalingConfig.MaximumConcurrency (concurrent invocations).")
@click.option("--submit-job-rate", type=click.FloatRange(min=0), default=50.0, show_default=True,
              help="Emulator SubmitJob quota, calls per second (AWS: 50; 0 = unlimited, no quota floor).")
@click.option("--instance-type", default="m5.24xlarge", show_default=True, help="burst: Spot instance type.")
@click.option("--array-instance-type", default="m6i.32xlarge", show_default=True,
              help="array: Spot instance type (needs at least --children-per-host vCPUs).")
@click.option("--import-runs", type=click.IntRange(min=1), default=7, show_default=True,
              help="import: cold starts to time per zip (median, min and max are reported).")
@click.option("--timeout", type=click.FloatRange(min=10), default=900, show_default=True,
              help="Seconds allowed for each wait (jobs RUNNING, every record handled).")
@click.option("--port", type=int, default=None, show_default="a free port",
              help="Port of the bench's own emulator (never the one `spotkit local up` uses).")
@click.option("--zip", "zip_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              show_default="build/resubmit.zip", help="The function zip to benchmark (`spotkit package` builds it).")
@click.option("--function-env", "function_env", multiple=True, metavar="NAME=VALUE",
              help="Extra environment variable for the function (repeatable), e.g. to try a handler knob.")
@click.option("--strict", is_flag=True, help="Exit 1 when a target is missed, not only on a correctness failure.")
def bench_cmd(only, jobs, array_size, reclaim, children_per_host, batch_size, window, max_concurrency,
              submit_job_rate, instance_type, array_instance_type, import_runs, timeout, port, zip_path, function_env,
              strict):
    """Benchmark Spot-loss resubmission on the local emulator; print a table and write
    reports/bench-latest.json (and reports/bench-<timestamp>.json).

    \b
    burst   N RUNNING jobs, Spot Fleet target capacity -> 0: seconds until every failed job is
            resubmitted exactly once (lineage tag spotkit:lineage), SubmitJob calls,
            throttles, ratio to the quota floor N / rate (target <= 1.25).
    calls   Batch API calls the function made during burst, by action, per resubmitted job
            (target <= 1.01: one DescribeJobs per 100 jobs of a batch, one SubmitJob per job).
    array   an array job with --reclaim children lost with their hosts: SubmitJob calls (far
            below the children reclaimed) and the index maps (each reclaimed index exactly once,
            no survivor).
    import  cold start: a fresh `python -S` per run with the extracted zip and the runtime's boto3
            only; `import app`, then the Lambda context and app.handler(<SQS batch of one
            AWS-shaped Spot-loss record>) returning, its DescribeJobs, idempotency claim and
            SubmitJob made against a local moto server. Median, min and max of "import",
            "first record" and their sum "init" (target <= 300 ms), wall clock and CPU; where
            the time goes (one extra run under -X importtime); for a source-only zip, also the
            same zip with bytecode for this Python (spotkit package --compile-for).

    Each of burst and array runs in its own emulator (`--execution hold`: jobs stay RUNNING
    without a process) on a free port, with the pipeline built as modules/spot-resubmit builds it:
    EventBridge rule -> encrypted SQS queue (redrive DLQ) -> event source mapping (--batch-size,
    --window, --max-concurrency, ReportBatchItemFailures) -> the zip, with an idempotency table.
    The emulator is stopped on every exit path, Ctrl-C included.
    """
    from rich.console import Console

    from spotkit import paths
    from spotkit.bench import report as rep
    from spotkit.bench import scenarios
    from spotkit.bench.stage import PipelineSettings, Progress, emulator, free_port

    console = Console(stderr=True)
    selected = set(only or BENCHMARKS)
    zip_path = Path(zip_path or paths.BUILD_DIR / "resubmit.zip")
    if not zip_path.is_file():
        raise click.UsageError(f"{zip_path} not found: run `spotkit package` (or `make package`) first")
    extra_env = {}
    for item in function_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.UsageError(f"--function-env takes NAME=VALUE, not {item!r}")
        extra_env[name] = value
    settings = PipelineSettings(batch_size=batch_size, window_seconds=window, max_concurrency=max_concurrency,
                                extra_env=extra_env)
    try:
        settings.validate()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if "array" in selected and (array_size % children_per_host or reclaim % children_per_host
                                or not 0 < reclaim < array_size):
        raise click.UsageError(f"--array-size ({array_size}) and --reclaim ({reclaim}) must be multiples of "
                               f"--children-per-host ({children_per_host}), with --reclaim below --array-size")

    def echo(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    progress = Progress(echo)
    started = time.time()
    run_id = "bench-" + datetime.fromtimestamp(started, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    results: dict = {}
    interrupted = False
    try:
        if selected & {"burst", "calls"}:
            try:
                with emulator(port or free_port(), submit_job_rate, echo) as stage:
                    results["burst"] = scenarios.burst(stage, zip_path, settings, jobs=jobs,
                                                       submit_job_rate=submit_job_rate, instance_type=instance_type,
                                                       timeout=timeout, progress=progress)
                b = results["burst"]
                results["calls"] = {"by_action": b["function_batch_calls_by_action"],
                                    "total": b["function_batch_calls"], "resubmitted": b["resubmitted"],
                                    "per_resubmitted_job": b["batch_calls_per_resubmitted_job"],
                                    "per_resubmitted_job_by_action": b["batch_calls_per_resubmitted_job_by_action"],
                                    "check": b["calls_check"]}
            except (scenarios.BenchError, click.ClickException) as exc:
                results["burst"] = {"error": str(getattr(exc, "message", exc))}
        if "array" in selected:
            try:
                with emulator(port or free_port(), submit_job_rate, echo) as stage:
                    results["array"] = scenarios.array(stage, zip_path, settings, size=array_size, reclaim=reclaim,
                                                       per_host=children_per_host,
                                                       instance_type=array_instance_type, timeout=timeout,
                                                       progress=progress)
            except (scenarios.BenchError, ValueError, click.ClickException) as exc:
                results["array"] = {"error": str(getattr(exc, "message", exc))}
        if "import" in selected:
            from spotkit.bench import coldstart

            echo(f"import: {import_runs} cold starts (import app + the first record) from {zip_path}")
            try:
                results["import"] = coldstart.cold_start(zip_path, runs=import_runs, breakdown=True)
            except coldstart.ColdStartError as exc:
                results["import"] = {"error": str(exc)}
            if "error" not in results["import"] and not results["import"]["has_bytecode"]:
                results["import"]["compiled"] = _cold_start_compiled(zip_path, import_runs, echo)
    except KeyboardInterrupt:
        interrupted = True
        echo("interrupted: the bench emulator was stopped; partial results follow")
    report = {
        "schema": 1,
        "run_id": run_id,
        "started_at": _iso(started),
        "finished_at": _iso(time.time()),
        "interrupted": interrupted,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "emulator": {"execution": "hold", "submit_job_rate": submit_job_rate},
        "pipeline": settings.as_dict(),
        "zip": {"path": str(zip_path), "sha256": hashlib.sha256(zip_path.read_bytes()).hexdigest()},
        "config": {"only": sorted(selected), "jobs": jobs, "array_size": array_size, "reclaim": reclaim,
                   "children_per_host": children_per_host, "instance_type": instance_type,
                   "array_instance_type": array_instance_type, "import_runs": import_runs, "timeout": timeout},
        "results": results,
    }
    report["rows"] = rep.rows(results)
    errors = [name for name, r in results.items() if "error" in r]
    report["correct"] = not errors and not interrupted and all(
        r.get("correct", True) for r in results.values())
    report["targets_met"] = all(r["met"] is not False for r in report["rows"])
    path = rep.write_report(report)
    rep.render(report, Console())
    console.print(f"report: {path}")
    if interrupted:
        sys.exit(130)
    if not report["correct"] or (strict and not report["targets_met"]):
        sys.exit(1)
