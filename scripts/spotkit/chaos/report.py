"""The experiment report: ``reports/chaos-latest.{json,xml,html}`` plus ``reports/<run id>.{json,xml,html}``.

The JSON is the record; the JUnit XML (``render_junit``) is for CI, the HTML page (``render_html``)
for people. Report keys (JSON object; seconds are float seconds):

* ``passed`` (bool), ``run_id``, ``env``, ``method`` ("fis-spot-interruption" | "fleet-capacity" |
  "terminate-instance"), ``recovery`` ("resubmitted" | "native-retry"), ``time_scale`` (float
  FIS/emulator time factor, 1.0 on real AWS, null when unknown), ``aws_provider_version`` (the
  hashicorp/aws version the environment's root locks, null without a lock), ``started_at``/``finished_at``
  (ISO 8601 UTC), ``failure_reason`` (null on PASS), ``interrupted`` (signal name, optional),
  ``steady_state`` ({"before": [probe...], "after": [probe...]}, each ``{name, tolerance, value,
  ok}``), ``rollbacks`` ([{name, status, detail, t}]), ``config`` ({...}).
* ``journal``: [{type: "probe"|"action"|"rollback", name, start, end (seconds since run start),
  status: "succeeded"|"failed"|"skipped", output (any JSON, optional), error (str, optional)}].
* ``targets``: [{instance_id, instance_type, compute_environment, jobs: [job id...]}].
* ``followed_job`` (``--job-id`` only, else null): {job_id, job_name, status, job_queue (ARN),
  job_definition (ARN), compute_environment (name), compute_environment_arn, container_instance_arn,
  instance_id} as read from AWS (:mod:`spotkit.chaos.follow`), refreshed once the job is RUNNING.
* ``jobs``: [{job_id, job_name, array_index (int|null), instance_id, recovery ("resubmitted" |
  "native-retry" | null), recovered_job_id, successors (int), passed (bool), problems ([str]),
  seconds_to_failure/seconds_to_recovery/seconds_to_running (seconds from injection, null when
  not reached)}].
* ``events``: [{t (seconds since run start), at (ISO time), subject ("instance:i-..." |
  "job:<job id>"), kind ("RUNNING" | "warning" | "rebalance" | "interrupted" | "FAILED" |
  "resubmitted" | "retried" | "RUNNING-again" | "SUCCEEDED" | "injected" | "rollback" | "note"),
  detail (str)}].

Reports written before ``journal``/``jobs``/``events`` existed (``method`` held the journal,
``timeline`` held ``{t, event}`` lines, one ``original_job_id``) still render.
"""

from __future__ import annotations

import json
import re
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spotkit import paths
from spotkit.chaos.report_html import render_html
from spotkit.chaos.report_view import seconds, text, view
from spotkit.chaos.state import atomic_write_json
from spotkit.chaos.state import atomic_write_text as _atomic_write_text

__all__ = [
    "LATEST",
    "atomic_write_text",
    "read_report",
    "render_html",
    "render_junit",
    "render_summary",
    "write_report",
]

LATEST = "chaos-latest.json"
LATEST_XML = "chaos-latest.xml"
LATEST_HTML = "chaos-latest.html"


def atomic_write_text(path: Path, data: str) -> None:
    """Write the string ``data`` (UTF-8) to ``path`` atomically, readable by all (0644): a report is
    for reading (CI artifacts, browsers)."""
    _atomic_write_text(path, data, mode=0o644)


def run_file_stem(run_id) -> str:
    """The file name stem for a run id: ``chaos-<id>``, only ``[A-Za-z0-9._-]`` (no path tricks)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(run_id or "unknown")).strip("._") or "unknown"
    return stem if stem.startswith("chaos-") else f"chaos-{stem}"


def write_report(report: dict, reports_dir: Path | None = None) -> Path:
    """Write ``report`` atomically as JSON, JUnit XML and HTML: ``chaos-latest.{json,xml,html}``
    and ``<run id>.{json,xml,html}`` (file names start ``chaos-``).

    The JSON is written first. A bug in a renderer never loses the report or raises from here: the
    XML then holds an errored test case and the HTML page says the rendering failed (so CI stays
    red). Returns the path of ``chaos-latest.json``. Raises OSError when the folder is not writable.
    """
    folder = Path(reports_dir or paths.REPORTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    stem = run_file_stem(report.get("run_id") if isinstance(report, dict) else None)
    latest = folder / LATEST
    atomic_write_json(folder / f"{stem}.json", report)
    atomic_write_json(latest, report)
    for ext, latest_name, render in (("xml", LATEST_XML, render_junit), ("html", LATEST_HTML, render_html)):
        try:
            rendered = render(report)
        except Exception:  # noqa: BLE001 - the JSON is the record; say what broke in its place
            rendered = _render_failed(ext, stem, traceback.format_exc())
        atomic_write_text(folder / f"{stem}.{ext}", rendered)
        atomic_write_text(folder / latest_name, rendered)
    return latest


def _render_failed(ext: str, stem: str, trace: str) -> str:
    if ext == "xml":
        suites = ET.Element("testsuites", name="spotkit chaos", tests="1", errors="1", failures="0")
        suite = ET.SubElement(suites, "testsuite", name=f"spotkit chaos ({stem})", tests="1", errors="1")
        case = ET.SubElement(suite, "testcase", classname="spotkit.chaos", name="report")
        ET.SubElement(case, "error", message="rendering the JUnit report failed").text = text(trace)
        return _xml(suites)
    from html import escape

    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>spotkit chaos: report "
        f"rendering failed</title></head><body><h1>Rendering the report failed</h1><p>See {escape(stem)}.json."
        f"</p><pre>{escape(text(trace))}</pre></body></html>\n"
    )


def _xml(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _num(value: float | None) -> str:
    return f"{value or 0.0:.3f}"


def render_junit(report: dict) -> str:
    """The report as JUnit XML (a string): ``<testsuites>`` holding one ``<testsuite name="spotkit
    chaos <method> (<env>)">`` with properties run_id, method, time_scale, env, recovery,
    aws_provider_version, and test cases:

    * one per job, classname ``spotkit.chaos.<env>.<method>``, name ``<job name> <job id>[ index N]``,
      time = seconds from injection to RUNNING again (else the run's duration), a ``<failure>``
      listing its problems when it did not pass;
    * ``steady-state`` (fails when a probe deviated; skipped when none was recorded);
    * ``rollbacks`` (fails when one did not succeed);
    * ``experiment``: the verdict, so a failed run is never green: ``<error>`` when interrupted,
      ``<failure message=failure_reason>`` when it did not pass, else passes.

    Never raises on a malformed report; every string is escaped by ElementTree.
    """
    v = view(report)
    classname = f"spotkit.chaos.{v.env}.{v.method}"
    suite_name = f"spotkit chaos {v.method} ({v.env})"
    cases: list[ET.Element] = []

    def case(name: str, time: float | None) -> ET.Element:
        el = ET.Element("testcase", classname=classname, name=name, time=_num(time))
        cases.append(el)
        return el

    for job in v.jobs:
        el = case(job.title, job.seconds_to_running if job.seconds_to_running is not None else v.duration)
        lines = [
            f"instance: {job.instance_id or '-'}",
            f"recovery: {job.recovery or '-'}",
            f"recovered job: {job.recovered_job_id or '-'}",
            f"successors: {'-' if job.successors is None else job.successors}",
            f"injection -> FAILED: {seconds(job.seconds_to_failure)}",
            f"injection -> recovered: {seconds(job.seconds_to_recovery)}",
            f"injection -> RUNNING again: {seconds(job.seconds_to_running)}",
        ]
        ET.SubElement(el, "system-out").text = "\n".join(lines)
        if job.passed is not True:
            problems = job.problems or ["job did not prove recovery" if job.passed is False else "no verdict for job"]
            failure = ET.SubElement(el, "failure", message="; ".join(problems), type="RecoveryNotProven")
            failure.text = "\n".join(problems + [""] + lines)

    el = case("steady-state", None)
    if v.steady_state_ok is None:
        ET.SubElement(el, "skipped", message="no steady-state probe was recorded")
    elif not v.steady_state_ok:
        bad = [p for p in v.probes if p.ok is not True]
        msg = "; ".join(f"{p.name} ({p.when}): {p.value or '-'}, expected {p.tolerance or '-'}" for p in bad)
        ET.SubElement(el, "failure", message=msg, type="SteadyStateDeviated").text = msg
    ET.SubElement(el, "system-out").text = "\n".join(
        f"{p.when} {p.name}: {p.value or '-'} (tolerance {p.tolerance or '-'}) {'ok' if p.ok else 'DEVIATED'}"
        for p in v.probes
    )

    el = case("rollbacks", None)
    bad = [r for r in v.rollbacks if not r.ok]
    if bad:
        msg = "; ".join(f"{r.name}: {r.status or 'no status'} {r.detail or ''}".strip() for r in bad)
        ET.SubElement(el, "failure", message=msg, type="RollbackFailed").text = msg
    ET.SubElement(el, "system-out").text = "\n".join(
        f"{r.name}: {r.status or '-'} at {seconds(r.t)} {r.detail or ''}".rstrip() for r in v.rollbacks
    ) or "no rollback was needed or recorded"

    el = case("experiment", v.duration)
    if v.interrupted:
        msg = f"interrupted by {v.interrupted}" + (f": {v.failure_reason}" if v.failure_reason else "")
        ET.SubElement(el, "error", message=msg, type="Interrupted").text = msg
    elif not v.passed:
        msg = v.failure_reason or "the experiment did not pass"
        ET.SubElement(el, "failure", message=msg, type="ExperimentFailed").text = msg

    def count(tag: str) -> str:
        return str(sum(1 for c in cases if c.find(tag) is not None))

    totals = {
        "tests": str(len(cases)),
        "failures": count("failure"),
        "errors": count("error"),
        "skipped": count("skipped"),
        "time": _num(v.duration),
    }
    suites = ET.Element("testsuites", name="spotkit chaos", **{k: totals[k] for k in ("tests", "failures", "errors")})
    suites.set("time", totals["time"])
    suite = ET.SubElement(suites, "testsuite", name=suite_name, **totals)
    if v.started_at:
        suite.set("timestamp", v.started_at)
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("run_id", v.run_id),
        ("method", v.method),
        ("time_scale", "unknown" if v.time_scale is None else f"{v.time_scale:g}"),
        ("env", v.env),
        ("recovery", v.recovery or "unknown"),
        ("aws_provider_version", v.aws_provider_version or "unknown"),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    suite.extend(cases)
    return _xml(suites)


def read_report(reports_dir: Path | None = None) -> dict | None:
    """The latest report, or None when there is none."""
    try:
        return json.loads((Path(reports_dir or paths.REPORTS_DIR) / LATEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:g} s"
    return str(value)


def render_summary(report: dict, console: Console) -> None:
    """Print the PASS/FAIL table of a report: the run, what was interrupted, one row per job
    (recovery, seconds from the injection to FAILED / recovered / RUNNING again), the steady-state
    probes, the rollbacks and where the JSON, JUnit and HTML reports are."""
    passed = bool(report.get("passed"))
    verdict = "[bold green]PASS[/bold green]" if passed else "[bold red]FAIL[/bold red]"
    table = Table(title=f"spotkit chaos spot: {verdict}", show_header=False, title_justify="left")
    table.add_column("key", style="bold")
    table.add_column("value")
    scale = report.get("time_scale")
    rows = [
        ("run id", report.get("run_id")),
        ("env", report.get("env")),
        ("hashicorp/aws", report.get("aws_provider_version")),
        ("method", report.get("method") or "fleet-capacity"),
        ("recovery proven", report.get("recovery")),
        ("time factor", None if scale is None else ("real time" if scale == 1 else
                                                    f"x{scale:g} (emulator: FIS durations scaled)")),
    ]
    targets = report.get("targets") or []
    if targets:
        rows.append(("instances interrupted", ", ".join(str(t.get("instance_id")) for t in targets)))
    elif report.get("instance_id"):
        rows.append(("instance", report.get("instance_id")))
    if report.get("fleet_request_id"):
        rows += [("Spot Fleet request", report.get("fleet_request_id")),
                 ("original target capacity", report.get("original_target_capacity"))]
    jobs = report.get("jobs") or []
    if jobs:
        ok = sum(1 for j in jobs if j.get("passed"))
        rows.append(("jobs back exactly once", f"{ok} of {len(jobs)}"))
        for j in jobs[:20]:
            name = str(j.get("job_id"))
            came = j.get("recovered_job_id") or "-"
            times = " / ".join(_fmt(j.get(k)) for k in ("seconds_to_failure", "seconds_to_recovery",
                                                        "seconds_to_running"))
            mark = "ok" if j.get("passed") else "; ".join(j.get("problems") or []) or "NOT back"
            rows.append((f"  {name}", f"{j.get('recovery') or '-'} -> {came}; FAILED/back/RUNNING {times} ({mark})"))
        if len(jobs) > 20:
            rows.append(("  ...", f"{len(jobs) - 20} more in the report"))
    else:
        rows += [("original job", report.get("original_job_id")),
                 ("recovered job", report.get("recovered_job_id")),
                 ("injection -> failure", report.get("seconds_to_failure")),
                 ("injection -> recovery", report.get("seconds_to_recovery")),
                 ("injection -> RUNNING", report.get("seconds_to_running"))]
    rows.append(("rolled back", report.get("capacity_restored")))
    for when in ("before", "after"):
        for probe in (report.get("steady_state") or {}).get(when, []):
            mark = "ok" if probe.get("ok") else "DEVIATED"
            rows.append((f"{probe.get('name')} ({when})", f"{probe.get('value')} ({mark})"))
    for key, value in rows:
        table.add_row(key, _fmt(value))
    if not passed:
        table.add_row("[red]failure reason[/red]", f"[red]{report.get('failure_reason') or 'unknown'}[/red]")
    if report.get("report_path"):
        latest = Path(str(report["report_path"]))
        table.add_row("reports", ", ".join(str(latest.with_suffix(x)) for x in (".json", ".xml", ".html")))
    console.print(table)
