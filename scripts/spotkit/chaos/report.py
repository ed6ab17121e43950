"""The experiment report: ``reports/chaos-latest.json`` plus ``reports/<run id>.json``.

Report keys (JSON object): ``passed`` (bool), ``recovery`` ("native-retry" | "resubmitted"), ``env``,
``run_id``, ``started_at``/``finished_at`` (ISO 8601 UTC), ``original_job_id``, ``recovered_job_id``,
``instance_id``, ``fleet_request_id``, ``original_target_capacity``, ``capacity_restored`` (bool, or
null when capacity was never cut), ``seconds_to_failure``/``seconds_to_recovery``/
``seconds_to_running`` (seconds from the capacity cut; null when not reached), ``failure_reason``
(null on PASS), ``steady_state`` ({"before": [probe...], "after": [probe...]}, each probe
``{name, tolerance, value, ok}``), ``method`` (journal of probes and actions), ``rollbacks``,
``timeline`` ([{t: seconds since start, event}]), ``config``.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from spotkit import paths
from spotkit.chaos.state import atomic_write_json

LATEST = "chaos-latest.json"


def write_report(report: dict, reports_dir: Path | None = None) -> Path:
    """Write ``report`` atomically as ``chaos-latest.json`` and ``<run_id>.json`` (run ids start ``chaos-``).

    Returns the path of ``chaos-latest.json``. Raises OSError when the folder is not writable.
    """
    folder = Path(reports_dir or paths.REPORTS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    run_id = str(report.get("run_id") or "unknown")
    atomic_write_json(folder / f"{run_id if run_id.startswith('chaos-') else 'chaos-' + run_id}.json", report)
    latest = folder / LATEST
    atomic_write_json(latest, report)
    return latest


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
    """Print the PASS/FAIL table of a report."""
    passed = bool(report.get("passed"))
    verdict = "[bold green]PASS[/bold green]" if passed else "[bold red]FAIL[/bold red]"
    table = Table(title=f"spotkit chaos spot: {verdict}", show_header=False, title_justify="left")
    table.add_column("key", style="bold")
    table.add_column("value")
    rows = [
        ("run id", report.get("run_id")),
        ("env", report.get("env")),
        ("recovery proven", report.get("recovery")),
        ("original job", report.get("original_job_id")),
        ("recovered job", report.get("recovered_job_id")),
        ("instance", report.get("instance_id")),
        ("Spot Fleet request", report.get("fleet_request_id")),
        ("original target capacity", report.get("original_target_capacity")),
        ("capacity restored", report.get("capacity_restored")),
        ("cut -> failure", report.get("seconds_to_failure")),
        ("cut -> recovery", report.get("seconds_to_recovery")),
        ("cut -> RUNNING", report.get("seconds_to_running")),
    ]
    for when in ("before", "after"):
        for probe in (report.get("steady_state") or {}).get(when, []):
            mark = "ok" if probe.get("ok") else "DEVIATED"
            rows.append((f"{probe.get('name')} ({when})", f"{probe.get('value')} ({mark})"))
    for key, value in rows:
        table.add_row(key, _fmt(value))
    if not passed:
        table.add_row("[red]failure reason[/red]", f"[red]{report.get('failure_reason') or 'unknown'}[/red]")
    if report.get("report_path"):
        table.add_row("report", str(report["report_path"]))
    console.print(table)
