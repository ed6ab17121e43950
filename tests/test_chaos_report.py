"""spotkit.chaos.report: the JSON, JUnit XML and HTML views of a chaos run.

The JUnit is read back by junitparser (a real consumer, not this module), the HTML by a real
headless Chromium when /usr/bin/chromium is installed (`apt-get install chromium`).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from spotkit.chaos import report as rep

CHROMIUM = "/usr/bin/chromium"
INST_A, INST_B = "i-0aaa1111bbbb2222c", "i-0ddd3333eeee4444f"
JOB_1, JOB_2, JOB_3 = "job-1111", "job-2222", "job-3333"
SUCC_1, SUCC_2 = "job-1111-r", "job-2222-r"
T0 = "2026-11-25T23:14:29Z"


def _ev(t, subject, kind, detail=""):
    return {"t": t, "at": None, "subject": subject, "kind": kind, "detail": detail}


def passing_report() -> dict:
    """Two instances interrupted by FIS under three jobs (one an array child); all resubmitted."""
    probes = [
        {"name": "job-queue-valid-and-enabled", "tolerance": "VALID/ENABLED", "value": "VALID/ENABLED", "ok": True},
        {"name": "resubmit-function-active", "tolerance": "Active", "value": "Active", "ok": True},
    ]
    events = [_ev(0.4, None, "note", "run started")]
    for jid, iid, run in ((JOB_1, INST_A, 3.0), (JOB_2, INST_A, 3.2), (JOB_3, INST_B, 3.5)):
        events.append(_ev(run, f"job:{jid}", "RUNNING", f"on {iid}"))
    for iid in (INST_A, INST_B):
        events.append(_ev(2.0, f"instance:{iid}", "RUNNING"))
    events += [
        _ev(5.0, f"instance:{INST_A}", "injected", "aws:ec2:send-spot-instance-interruptions"),
        _ev(5.0, f"instance:{INST_B}", "injected", "aws:ec2:send-spot-instance-interruptions"),
        _ev(5.1, f"instance:{INST_A}", "rebalance"),
        _ev(5.2, f"instance:{INST_A}", "warning", "two-minute warning (PT2M -> 3 s)"),
        _ev(5.2, f"instance:{INST_B}", "warning"),
        _ev(8.2, f"instance:{INST_A}", "interrupted", "terminated"),
        _ev(8.3, f"instance:{INST_B}", "interrupted", "terminated"),
    ]
    for jid, succ, fail in ((JOB_1, SUCC_1, 9.0), (JOB_2, SUCC_2, 9.4), (JOB_3, "job-3333-r", 10.1)):
        events += [
            _ev(fail, f"job:{jid}", "FAILED", "Host EC2 (instance i-...) terminated."),
            _ev(fail + 0.7, f"job:{jid}", "resubmitted", f"as {succ}"),
            _ev(fail + 6.0, f"job:{succ}", "RUNNING-again"),
            _ev(fail + 11.0, f"job:{succ}", "SUCCEEDED"),
        ]
    events.append(_ev(12.0, None, "rollback", "FIS experiment stopped"))
    jobs = [
        {
            "job_id": jid,
            "job_name": name,
            "array_index": idx,
            "instance_id": iid,
            "recovery": "resubmitted",
            "recovered_job_id": succ,
            "successors": 1,
            "passed": True,
            "problems": [],
            "seconds_to_failure": fail - 5.0,
            "seconds_to_recovery": fail - 4.3,
            "seconds_to_running": fail + 1.0,
        }
        for jid, name, idx, iid, succ, fail in (
            (JOB_1, "spotkit-chaos-probe", None, INST_A, SUCC_1, 9.0),
            (JOB_2, "spotkit-chaos-array", 3, INST_A, SUCC_2, 9.4),
            (JOB_3, "spotkit-chaos-probe-b", None, INST_B, "job-3333-r", 10.1),
        )
    ]
    return {
        "passed": True,
        "run_id": "chaos-20261125T231429Z-61bace",
        "env": "local",
        "method": "fis-spot-interruption",
        "recovery": "resubmitted",
        "time_scale": 0.025,
        "started_at": T0,
        "finished_at": "2026-11-25T23:14:55Z",
        "failure_reason": None,
        "steady_state": {"before": probes, "after": copy.deepcopy(probes)},
        "rollbacks": [{"name": "stop-fis-experiment", "status": "succeeded", "detail": "stopped", "t": 12.0}],
        "config": {"env": "local", "timeout": 300.0, "native_retry": False},
        "journal": [
            {"type": "probe", "name": "steady-state-before", "start": 0.4, "end": 0.9, "status": "succeeded"},
            {
                "type": "action",
                "name": "aws:ec2:send-spot-instance-interruptions",
                "start": 5.0,
                "end": 8.3,
                "status": "succeeded",
                "output": {"experiment_id": "EXP123", "targets": [INST_A, INST_B]},
            },
            {"type": "probe", "name": "steady-state-after", "start": 24.0, "end": 25.0, "status": "succeeded"},
        ],
        "targets": [
            {"instance_id": INST_A, "instance_type": "m5.large", "compute_environment": "spotkit-local-spot",
             "jobs": [JOB_1, JOB_2]},
            {"instance_id": INST_B, "instance_type": "c5.large", "compute_environment": "spotkit-local-spot",
             "jobs": [JOB_3]},
        ],
        "jobs": jobs,
        "events": events,
    }


def failing_report() -> dict:
    """Native retry: one job never came back, a probe deviated, a rollback failed."""
    r = passing_report()
    r.update(passed=False, recovery="native-retry", method="terminate-instance", time_scale=1.0,
             failure_reason="job job-2222 was not retried within 300 s")
    r["jobs"][1].update(passed=False, recovery=None, recovered_job_id=None, successors=0,
                        seconds_to_recovery=None, seconds_to_running=None,
                        problems=["no new attempt within 300 s", "statusReason was 'Essential container exited'"])
    gone = {(f"job:{JOB_2}", "resubmitted"), (f"job:{SUCC_2}", "RUNNING-again"), (f"job:{SUCC_2}", "SUCCEEDED")}
    r["events"] = [e for e in r["events"] if (e["subject"], e["kind"]) not in gone]
    r["steady_state"]["after"][1].update(value="Inactive", ok=False)
    r["rollbacks"].append({"name": "restore-target-capacity", "status": "failed", "detail": "throttled", "t": 13})
    return r


def interrupted_report() -> dict:
    """Ctrl-C after the injection: partial results, no after-probes."""
    r = passing_report()
    r.update(passed=False, interrupted="SIGINT", failure_reason="interrupted by SIGINT", time_scale=None,
             finished_at="2026-11-25T23:14:40Z")
    r["steady_state"]["after"] = []
    r["events"] = [e for e in r["events"] if e["t"] is not None and e["t"] <= 9.5]
    for j in r["jobs"]:
        j.update(passed=False, recovered_job_id=None, seconds_to_recovery=None, seconds_to_running=None,
                 problems=["interrupted before recovery"])
    return r


def experiment_failure_report() -> dict:
    """The experiment failed before it had any job."""
    return {
        "passed": False,
        "run_id": "chaos-20261125T000000Z-000000",
        "env": "dev",
        "method": "fleet-capacity",
        "recovery": "resubmitted",
        "time_scale": 1.0,
        "started_at": T0,
        "finished_at": "2026-11-25T23:14:31Z",
        "failure_reason": "steady state deviated before the injection: job queue DISABLED",
        "steady_state": {"before": [{"name": "job-queue", "tolerance": "ENABLED", "value": "DISABLED", "ok": False}]},
        "rollbacks": [],
        "journal": [{"type": "probe", "name": "job-queue", "start": 0.1, "end": 0.2, "status": "failed",
                     "error": "DISABLED"}],
        "jobs": [],
        "events": [],
        "targets": [],
    }


def legacy_report() -> dict:
    """A report as written before journal/jobs/events (``method`` was the journal)."""
    return {
        "passed": True,
        "recovery": "resubmitted",
        "env": "local",
        "run_id": "chaos-20261125T224811Z-41ea8d",
        "started_at": "2026-11-25T22:48:11+00:00",
        "finished_at": "2026-11-25T22:48:20+00:00",
        "original_job_id": "8855d165",
        "recovered_job_id": "3eafa454",
        "instance_id": "i-cfa2f559597ab5eb5",
        "fleet_request_id": "sfr-c4a81ab0a3b6a5858",
        "seconds_to_failure": 2.0,
        "seconds_to_recovery": 2.1,
        "seconds_to_running": 4.1,
        "failure_reason": None,
        "steady_state": {"before": [], "after": []},
        "method": [{"type": "action", "name": "cut-capacity", "start": 4.9, "end": 5.0, "status": "succeeded"}],
        "timeline": [{"t": 0.5, "event": "probe ok: VALID [green]ok[/green]"}, {"t": 6.9, "event": "FAILED"}],
        "config": {"env": "local"},
    }


HOSTILE = "<script>alert(1)</script>\"'&]]><!-- \x00\x1b\ud800 \u202e ../../x {{ 7*7 }} <img src=https://evil/>"


def hostile_report() -> dict:
    r = failing_report()
    r["run_id"] = "../../" + HOSTILE
    r["env"] = HOSTILE
    r["method"] = HOSTILE
    r["failure_reason"] = HOSTILE
    r["interrupted"] = HOSTILE
    r["jobs"][0].update(job_name=HOSTILE, problems=[HOSTILE, None, 5], passed=False)
    r["jobs"][1]["job_id"] = HOSTILE
    r["targets"][0]["instance_type"] = HOSTILE
    r["events"].append(_ev(3.0, HOSTILE, HOSTILE, HOSTILE))
    r["events"].append(_ev(4.0, "job:" + HOSTILE, "FAILED", HOSTILE))
    r["journal"][1]["output"] = {HOSTILE: [HOSTILE]}
    r["journal"][1]["error"] = HOSTILE
    r["rollbacks"][0]["detail"] = HOSTILE
    r["config"] = {HOSTILE: HOSTILE}
    return r


def garbage_reports() -> list:
    return [
        {},
        {"passed": None, "jobs": None, "events": None, "journal": None, "targets": None, "steady_state": None,
         "rollbacks": None, "config": None, "time_scale": None},
        {"passed": "yes", "jobs": [None, 1, "x", {"job_id": None}, {"job_id": "j", "array_index": "two",
                                                                      "seconds_to_running": float("nan")}],
         "events": [{"t": "soon"}, {"t": float("inf"), "kind": None}, {"at": "2026-11-25T23:14:39Z", "kind": "FAILED",
                                                                         "subject": "job:j"}],
         "steady_state": {"before": "all good", "after": [None]}, "rollbacks": [{}], "targets": [{"jobs": "j"}],
         "journal": [{"start": "x", "end": None}], "config": [], "time_scale": "fast", "started_at": T0,
         "finished_at": "yesterday", "method": {"name": "x"}},
        {"events": [_ev(5, "job:a", "RUNNING"), _ev(5, "job:a", "FAILED")]},  # all at one instant
    ]


SAMPLES = {
    "pass": passing_report,
    "fail": failing_report,
    "interrupted": interrupted_report,
    "experiment-failure": experiment_failure_report,
    "legacy": legacy_report,
    "hostile": hostile_report,
}


# ---------------------------------------------------------------------------------------- JUnit


def _junit(report: dict, tmp_path: Path):
    path = tmp_path / "junit.xml"
    path.write_text(rep.render_junit(report), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    return suites[0]


def _results(case) -> set:
    return {type(r) for r in case.result}


def test_junit_of_a_passing_run_is_green_for_a_junit_consumer(tmp_path):
    suite = _junit(passing_report(), tmp_path)
    assert suite.name == "spotkit chaos fis-spot-interruption (local)"
    assert (suite.tests, suite.failures, suite.errors) == (6, 0, 0)
    props = {p.name: p.value for p in suite.properties()}
    assert props["run_id"] == "chaos-20261125T231429Z-61bace"
    assert props["method"] == "fis-spot-interruption" and props["env"] == "local"
    assert props["time_scale"] == "0.025"
    cases = {c.name: c for c in suite}
    assert set(cases) == {
        f"spotkit-chaos-probe {JOB_1}",
        f"spotkit-chaos-array {JOB_2} index 3",
        f"spotkit-chaos-probe-b {JOB_3}",
        "steady-state",
        "rollbacks",
        "experiment",
    }
    case = cases[f"spotkit-chaos-probe {JOB_1}"]
    assert case.classname == "spotkit.chaos.local.fis-spot-interruption"
    assert case.time == pytest.approx(10.0)  # seconds_to_running
    assert all(c.is_passed for c in suite)


def test_junit_of_a_failed_run_lists_the_problems(tmp_path):
    suite = _junit(failing_report(), tmp_path)
    cases = {c.name: c for c in suite}
    bad = cases[f"spotkit-chaos-array {JOB_2} index 3"]
    (failure,) = bad.result
    assert isinstance(failure, Failure)
    assert failure.message == "no new attempt within 300 s; statusReason was 'Essential container exited'"
    assert bad.time == pytest.approx(26.0)  # never RUNNING again: the run's duration
    assert _results(cases["steady-state"]) == {Failure}
    assert "resubmit-function-active" in cases["steady-state"].result[0].message
    assert _results(cases["rollbacks"]) == {Failure}
    assert "restore-target-capacity" in cases["rollbacks"].result[0].message
    assert cases["experiment"].result[0].message == "job job-2222 was not retried within 300 s"
    assert cases[f"spotkit-chaos-probe {JOB_1}"].is_passed
    assert (suite.tests, suite.failures, suite.errors) == (6, 4, 0)


def test_junit_of_an_interrupted_run_is_an_error(tmp_path):
    suite = _junit(interrupted_report(), tmp_path)
    cases = {c.name: c for c in suite}
    assert _results(cases["experiment"]) == {Error}
    assert cases["experiment"].result[0].message == "interrupted by SIGINT: interrupted by SIGINT"
    assert {p.name: p.value for p in suite.properties()}["time_scale"] == "unknown"
    assert suite.errors == 1 and suite.failures == 3


def test_junit_experiment_failure_without_jobs_is_never_green(tmp_path):
    suite = _junit(experiment_failure_report(), tmp_path)
    cases = {c.name: c for c in suite}
    assert set(cases) == {"steady-state", "rollbacks", "experiment"}
    assert "job queue DISABLED" in cases["experiment"].result[0].message
    assert suite.failures == 2 and not cases["rollbacks"].result


@pytest.mark.parametrize("name", ["legacy", "hostile"])
def test_junit_of_odd_reports_parses(tmp_path, name):
    suite = _junit(SAMPLES[name](), tmp_path)
    assert suite.tests >= 3
    if name == "legacy":  # one job from original_job_id, verdict carried over
        assert "8855d165" in {c.name for c in suite}
        assert suite.name == "spotkit chaos fleet-capacity (local)"
        assert suite.failures == 0 and _results({c.name: c for c in suite}["steady-state"]) == {Skipped}
    else:
        xml = (tmp_path / "junit.xml").read_text(encoding="utf-8")
        assert "<script>" not in xml and "\x00" not in xml and "\x1b" not in xml
        assert suite.failures >= 3 and suite.errors == 1


@pytest.mark.parametrize("report", garbage_reports())
def test_renderers_survive_garbage(report, tmp_path):
    ET.fromstring(rep.render_junit(report).encode("utf-8"))
    suite = _junit(report, tmp_path)
    assert suite.failures + suite.errors >= 1  # no verdict is not a pass
    _check_html(rep.render_html(report))


# ---------------------------------------------------------------------------------------- HTML


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _check_html(html: str) -> _Collector:
    p = _Collector()
    p.feed(html)
    p.close()
    names = {t for t, _ in p.tags}
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "base"}
    for _, attrs in p.tags:
        assert not {"src", "href", "srcset", "action"} & set(attrs)
        assert not any(a.startswith("on") for a in attrs)
        assert "url(" not in (attrs.get("style") or "")
    assert "\x00" not in html
    return p


def test_html_of_a_passing_run():
    html = rep.render_html(passing_report())
    p = _check_html(html)
    assert not re.search(r"https?:|//[a-z]", html, re.I) and "url(" not in html  # nothing to fetch
    text = " ".join(p.text)
    assert "PASS" in text and "fis-spot-interruption" in text and "chaos-20261125T231429Z-61bace" in text
    assert "durations x0.025: PT2M -&gt; 3 s" in html
    lanes = [a for t, a in p.tags if t == "g" and "lane" in a.get("class", "").split()]
    assert [a["data-subject"] for a in lanes] == [
        "experiment",
        f"instance:{INST_A}",
        f"job:{JOB_1}",
        f"job:{JOB_2}",
        f"instance:{INST_B}",
        f"job:{JOB_3}",
    ]
    kinds = [a["class"].split()[1] for t, a in p.tags if t == "g" and a.get("class", "").startswith("marker ")]
    for kind in ("RUNNING", "warning", "rebalance", "interrupted", "FAILED", "resubmitted", "RUNNING-again",
                 "SUCCEEDED", "injected", "rollback", "note"):
        assert f"kind-{kind}" in kinds
    # the successor's events continue the original job's lane: FAILED 9.0 -> resubmitted 9.7 -> RUNNING again 15.0
    assert "+0.7 s" in text and "+5.3 s" in text and "+5 s" in text
    for label in ("RUNNING", "warning", "interrupted", "FAILED", "resubmitted", "retried", "RUNNING-again"):
        assert f'class="legend-{label}"' in html


def test_html_of_failed_interrupted_and_legacy_runs():
    fail = rep.render_html(failing_report())
    assert 'class="verdict fail"' in fail and "NOT recovered" in fail and "DEVIATED" in fail
    assert "no new attempt within 300 s" in fail and "real time (x1)" in fail
    assert fail.count('class="lane-verdict"') == 1  # the job lane that never came back
    inter = rep.render_html(interrupted_report())
    assert "Interrupted by SIGINT" in inter and "time factor unknown" in inter
    legacy = rep.render_html(legacy_report())
    assert "probe ok: VALID ok" in legacy and "8855d165" in legacy and "predates" in legacy
    none = rep.render_html(experiment_failure_report())
    assert "job queue DISABLED" in none and "No job was recorded" in none


def test_html_escapes_everything():
    html = rep.render_html(hostile_report())
    p = _check_html(html)
    assert "<script>" not in html and "<img" not in html and "<!-- " not in html and "\ud800" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in " ".join(p.text) and "49" not in re.sub(r"[0-9a-f-]{6,}", "", " ".join(p.text))
    html.encode("utf-8")  # no lone surrogates
    assert "\u202e" not in html and "\u202e" not in rep.render_junit(hostile_report())  # no bidi spoofing


def test_html_clips_huge_outputs_but_the_json_keeps_them():
    r = passing_report()
    r["journal"][1]["output"] = "x" * 50_000
    html = rep.render_html(r)
    assert "x" * 20_000 in html and "x" * 20_001 not in html and "30000 more characters in the JSON report" in html


# ---------------------------------------------------------------------------------------- files


def test_write_report_writes_all_views_atomically(tmp_path):
    report = failing_report()
    latest = rep.write_report(report, tmp_path)
    assert latest == tmp_path / "chaos-latest.json"
    run = "chaos-20261125T231429Z-61bace"
    for stem in ("chaos-latest", run):
        assert json.loads((tmp_path / f"{stem}.json").read_text()) == report
        assert (tmp_path / f"{stem}.xml").read_text() == rep.render_junit(report)
        assert (tmp_path / f"{stem}.html").read_text() == rep.render_html(report)
        assert oct((tmp_path / f"{stem}.html").stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{s}.{e}" for s in ("chaos-latest", run) for e in ("json", "xml", "html")
    )  # no temporary files left
    assert rep.read_report(tmp_path) == report


def test_write_report_keeps_hostile_run_ids_in_the_folder(tmp_path):
    out = tmp_path / "reports"
    rep.write_report(hostile_report(), out)
    assert all(p.parent == out for p in out.rglob("*"))
    assert len(list(out.glob("chaos-*.html"))) == 2 and not list(tmp_path.glob("*.json"))


def test_a_renderer_bug_still_writes_the_json_and_a_red_junit(tmp_path, monkeypatch):
    def boom(report):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(rep, "render_junit", boom)
    monkeypatch.setattr(rep, "render_html", boom)
    rep.write_report(passing_report(), tmp_path)
    assert rep.read_report(tmp_path)["passed"] is True
    suite = _junit_file(tmp_path / "chaos-latest.xml")
    assert suite.errors == 1
    assert "renderer bug" in (tmp_path / "chaos-latest.html").read_text()


def _junit_file(path: Path):
    return list(JUnitXml.fromfile(str(path)))[0]


def test_atomic_write_text_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "x.html"
    rep.atomic_write_text(target, "old")

    def fail(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        rep.atomic_write_text(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.html"]


# ---------------------------------------------------------------------------------------- browser

_BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium(url: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="spotkit-chromium-") as profile:
        return subprocess.run(
            [CHROMIUM, *_BROWSER_FLAGS, f"--user-data-dir={profile}", *args, url],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": profile},
        )


def _console_errors(stderr: str) -> list:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Refused to" in line]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
def test_html_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    rep.write_report(failing_report(), tmp_path)
    url = (tmp_path / "chaos-latest.html").as_uri()

    dom = _chromium(url, "--dump-dom", "--window-size=1280,1600")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert html.count('class="lane lane-instance"') == 2 and html.count('class="lane lane-job"') == 3
    for kind in ("RUNNING", "warning", "interrupted", "FAILED", "resubmitted", "RUNNING-again"):
        assert f'class="marker kind-{kind}"' in html
    assert re.search(r'<text class="step"[^>]*><title>[^<]+</title>\+0\.7 s</text>', html)
    assert html.count('class="lane-verdict"') == 1 and "NOT recovered" in html
    assert not _console_errors(dom.stderr), _console_errors(dom.stderr)

    png = tmp_path / "shot.png"
    shot = _chromium(url, f"--screenshot={png}", "--window-size=1280,1000")
    assert shot.returncode == 0 and png.exists(), shot.stderr[-2000:]
    img = Image.open(png).convert("RGB")
    assert img.size == (1280, 1000)
    colours = img.getcolors(maxcolors=1 << 20)
    assert len(colours) > 200  # text, markers, lanes: not a blank page
    top = max(colours)[0] / (img.size[0] * img.size[1])
    assert top < 0.95  # no single colour covers the page
    badge = img.crop((0, 0, 400, 90)).getcolors(maxcolors=1 << 16)
    assert any(r > 150 and g < 60 and b < 60 and n > 500 for n, (r, g, b) in badge)  # the red FAIL badge


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
def test_console_error_check_is_not_vacuous(tmp_path):
    page = tmp_path / "bad.html"
    html = rep.render_html(passing_report()).replace("</main>", '<img src="https://example.invalid/x.png"></main>')
    page.write_text(html, encoding="utf-8")
    res = _chromium(page.as_uri(), "--dump-dom")
    assert _console_errors(res.stderr), "a blocked external image should be logged"
