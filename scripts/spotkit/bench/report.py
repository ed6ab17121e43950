"""The benchmark report: ``reports/bench-latest.json`` plus ``reports/bench-<timestamp>.json``, and its table.

Report keys (JSON object): ``schema`` (1), ``run_id`` (``bench-<UTC timestamp>``), ``started_at`` /
``finished_at`` (ISO 8601 UTC), ``machine`` (platform, Python, CPUs), ``emulator`` (execution mode,
SubmitJob rate per second), ``pipeline`` (event source mapping and function settings), ``zip``
(path, sha256), ``config`` (the command's options), ``results`` (``burst``, ``array``, ``calls``,
``import``: what each measured, see :mod:`spotkit.bench.scenarios` and, for ``import`` (the cold
start: import + first record), :mod:`spotkit.bench.coldstart`, with for a source-only zip
``import.compiled``, the same zip with ``.pyc`` files for the bench's Python; a benchmark that could
not run has ``{"error": "..."}``), ``rows`` (the table: ``benchmark``, ``measure``, ``value``, ``target``,
``met``: true/false/null when the measure has no target), ``correct`` (no lost, duplicated or
misplaced resubmission in any benchmark that ran), ``targets_met`` (every targeted measure met).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, List, Optional

from rich.console import Console
from rich.table import Table

from spotkit import paths

LATEST = "bench-latest.json"


def _row(benchmark: str, measure: str, value: Any, target: str = "", met: Optional[bool] = None) -> dict:
    return {"benchmark": benchmark, "measure": measure, "value": value, "target": target, "met": met}


def _le(value, limit) -> Optional[bool]:
    return None if value is None else value <= limit


def _spread(stats: dict) -> str:
    return f"{stats['median_ms']:g} ({stats['min_ms']:g}-{stats['max_ms']:g})"


def _cold_start_rows(r: dict, kind: str) -> List[dict]:
    """Rows of one cold-start result (:func:`spotkit.bench.coldstart.cold_start`): median (min-max), ms."""
    wall, cpu, n = r["wall"], r["cpu"], r["runs"]
    return [
        _row("import", f"{kind}: import app, median (min-max) of {n} (ms)", _spread(wall["import"])),
        _row("import", f"{kind}: first record (ms)", _spread(wall["first_record"])),
        _row("import", f"{kind}: of which endpoint round trips (ms)", _spread(wall["endpoint_round_trips"])),
        _row("import", f"{kind}: init = import + first record (ms)", _spread(wall["init"]), "<= 300",
             _le(wall["init"]["median_ms"], 300)),
        _row("import", f"{kind}: init CPU time (ms)", _spread(cpu["init_cpu"])),
    ]


def rows(results: dict) -> List[dict]:
    """The table rows for ``results`` (see the module docstring)."""
    out: List[dict] = []
    b = results.get("burst")
    if b and "error" not in b:
        out += [
            _row("burst", "jobs failed by the cut", b["failed_by_cut"], f"= {b['jobs']}",
                 b["failed_by_cut"] == b["jobs"]),
            _row("burst", "lost / duplicated", f"{b['lost']} / {b['duplicated']}", "0 / 0",
                 b["lost"] == 0 and b["duplicated"] == 0 and b["successors_of_other_jobs"] == 0),
            _row("burst", "cut -> first resubmission (s)", b["seconds_to_first_resubmission"]),
            _row("burst", "cut -> all resubmitted (s)", b["seconds_to_all_resubmitted"]),
            _row("burst", "quota floor (s)", b["quota_floor_seconds"]),
            _row("burst", "ratio to quota floor", b["ratio_to_quota_floor"], "<= 1.25",
                 _le(b["ratio_to_quota_floor"], 1.25)),
            _row("burst", "SubmitJob calls (accepted)", f"{b['submit_job_calls']} ({b['submit_job_accepted']})"),
            _row("burst", "throttles (429)", b["throttles"]),
            _row("burst", "invocations / function errors", "{} / {}".format(
                b["event_source_mapping"].get("batches", 0), b["event_source_mapping"].get("function_errors", 0))),
            _row("burst", "DLQ messages", b["dlq_messages"], "0", b["dlq_messages"] == 0),
        ]
        ev = b.get("decision_events") or {}
        if ev.get("published"):
            out += [
                _row("burst", "decision events received / resubmitted", f"{ev['events_received']} / {ev['expected']}",
                     ">= resubmitted", ev["events_received"] >= ev["expected"]),
                _row("burst", "PutEvents calls (ceiling: 1 per 10 + 1 per invocation)",
                     ev["put_events_calls"], f"<= {ev['put_events_ceiling']}",
                     ev["put_events_calls"] <= ev["put_events_ceiling"]),
            ]
        else:
            out.append(_row("burst", "decision events", "off (SPOTKIT_DECISION_EVENT_BUS empty)"))
    elif b:
        out.append(_row("burst", "error", b["error"], "", False))
    c = results.get("calls")
    if c and "error" not in c:
        out += [
            _row("calls", "Batch calls by action", ", ".join(f"{k} {v}" for k, v in c["by_action"].items()) or "-"),
            _row("calls", "per resubmitted job, by action",
                 ", ".join(f"{k} {v:g}" for k, v in c.get("per_resubmitted_job_by_action", {}).items()) or "-"),
            _row("calls", "Batch calls per resubmitted job", c["per_resubmitted_job"], "<= 1.01",
                 _le(c["per_resubmitted_job"], 1.01)),
        ]
        check = c.get("check")
        if check:
            low, high = check["describe_jobs_bounds"]
            out.append(_row("calls", "counters agree (DescribeJobs per 100 records, SubmitJob = quota's)",
                            "; ".join(check["problems"]) or f"DescribeJobs {check['describe_jobs']} in [{low}, {high}]",
                            "agree", not check["problems"]))
    a = results.get("array")
    if a and "error" not in a:
        out += [
            _row("array", "children reclaimed / surviving", f"{a['reclaimed_children']} / {a['surviving_children']}",
                 f"= {a['hosts_reclaimed'] * a['children_per_host']}",
                 a["reclaimed_children"] == a["hosts_reclaimed"] * a["children_per_host"]),
            _row("array", "SubmitJob calls (accepted)", f"{a['submit_job_calls']} ({a['submit_job_accepted']})",
                 f"<< {a['reclaimed_children']}", a["submit_job_calls"] * 10 <= a["reclaimed_children"]),
            _row("array", "resubmitted array jobs / single jobs",
                 f"{a['resubmitted_array_jobs']} / {a['resubmitted_single_jobs']}"),
            _row("array", "index map: missing / twice / survivors",
                 f"{a['reclaimed_indexes_missing']} / {a['reclaimed_indexes_duplicated']} / "
                 f"{a['surviving_indexes_resubmitted']}", "0 / 0 / 0", a["correct"]),
            _row("array", "cut -> all resubmitted (s)", a["seconds_to_all_resubmitted"]),
            _row("array", "throttles (429)", a["throttles"]),
        ]
    elif a:
        out.append(_row("array", "error", a["error"], "", False))
    i = results.get("import")
    if i and "error" not in i:
        out += _cold_start_rows(i, "source only" if not i.get("has_bytecode") else "with .pyc")
        c = i.get("compiled")
        if c and "error" not in c:
            out += _cold_start_rows(c, f"+ .pyc for {c['compile_for']}")
        elif c:
            out.append(_row("import", "error (zip + .pyc)", c["error"], "", False))
        where = i.get("breakdown")
        if where:
            for phase in ("import", "first_record"):
                top = [f"{g} {ms:g}" for g, ms in list(where.get(phase, {}).items())[:6]]
                out.append(_row("import", f"where {phase.replace('_', ' ')} time goes (ms, -X importtime)",
                                ", ".join(top)))
    elif i:
        out.append(_row("import", "error", i["error"], "", False))
    return out


def write_report(report: dict, reports_dir: Optional[Path] = None) -> Path:
    """Write ``report`` as ``<run_id>.json`` and ``bench-latest.json`` (atomically); return the latter.

    Raises:
        OSError: the folder is not writable.
    """
    folder = Path(reports_dir or paths.REPORTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, sort_keys=False, default=str) + "\n"
    for name in (f"{report['run_id']}.json", LATEST):
        tmp = folder / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)
    return folder / LATEST


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render(report: dict, console: Console) -> None:
    """Print the table of ``report``."""
    table = Table(title=f"spotkit bench {report['run_id']}", title_justify="left")
    for name in ("benchmark", "measure", "value", "target", "result"):
        table.add_column(name)
    for r in report["rows"]:
        result = {True: "[green]met[/green]", False: "[bold red]MISSED[/bold red]", None: ""}[r["met"]]
        table.add_row(r["benchmark"], r["measure"], _fmt(r["value"]), r["target"], result)
    console.print(table)
    p = report["pipeline"]
    console.print(f"pipeline: batch size {p['batch_size']}, window {p['maximum_batching_window_seconds']} s, "
                  f"max concurrency {p['maximum_concurrency']}; emulator SubmitJob rate "
                  f"{report['emulator']['submit_job_rate']}/s, execution {report['emulator']['execution']}")
