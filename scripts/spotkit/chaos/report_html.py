"""``render_html(report)``: a chaos report as one self-contained HTML page (inline CSS and SVG).

The page has no script, font, image or link to load: a Content-Security-Policy of
``default-src 'none'`` says so to the browser. It is laid out for 1280 px wide screens and prints.
Every report string is escaped by jinja2's autoescape; only fixed names reach class attributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import jinja2

from spotkit.chaos.report_view import EVENT_KINDS, View, seconds, view

# kind -> (glyph, shape, colour, what it means). Glyph and shape tell the kinds apart without colour.
KIND_STYLE = {
    "injected": ("X", "square", "#6b21a8", "the fault was injected (the action started)"),
    "RUNNING": ("R", "circle", "#15803d", "job RUNNING / instance running"),
    "rebalance": ("B", "triangle", "#a16207", "EC2 rebalance recommendation"),
    "warning": ("W", "triangle", "#b45309", "Spot interruption warning"),
    "interrupted": ("I", "square", "#991b1b", "instance interrupted (stopping / terminated)"),
    "FAILED": ("F", "diamond", "#dc2626", "job FAILED (Host EC2 ... terminated.)"),
    "resubmitted": ("S", "circle", "#1d4ed8", "job resubmitted as a new job"),
    "retried": ("T", "circle", "#4338ca", "job retried natively as a new attempt"),
    "RUNNING-again": ("R2", "circle", "#166534", "the recovered job RUNNING again"),
    "SUCCEEDED": ("OK", "circle", "#0f766e", "job SUCCEEDED"),
    "rollback": ("U", "square", "#475569", "rollback (undo) step"),
    "note": ("N", "circle", "#64748b", "note, or an event kind this page does not know"),
}
assert set(KIND_STYLE) == set(EVENT_KINDS)

# Geometry of the timeline SVG (user units; it scales to the page width).
WIDTH = 1200
LABEL_X = 12
PLOT_X0 = 290
PLOT_X1 = 1170
AXIS_Y = 34
LANE_Y0 = 52
LANE_H = 48
LABEL_CHARS = 36


@dataclass
class Lane:
    kind: str  # experiment | instance | job
    subject: str
    label: str
    sub: str = ""
    depth: int = 0
    failed: bool = False  # a job that did not prove recovery
    events: list = field(default_factory=list)
    bars: list = field(default_factory=list)  # journal steps (experiment lane)
    # filled in by layout:
    y: float = 0.0
    markers: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    segments: list = field(default_factory=list)


def _short(s: str, n: int = LABEL_CHARS) -> str:
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def _clip(s: str, n: int = 20000) -> str:
    """At most ``n`` characters of a long output (the JSON report keeps all of it)."""
    return s if len(s) <= n else s[:n] + f"\u2026 [{len(s) - n} more characters in the JSON report]"


def _shape_path(shape: str, r: float = 9.0) -> str:
    if shape == "square":
        return f"M{-r * 0.85:.1f},{-r * 0.85:.1f}h{r * 1.7:.1f}v{r * 1.7:.1f}h{-r * 1.7:.1f}z"
    if shape == "diamond":
        return f"M0,{-r * 1.15:.1f}L{r * 1.15:.1f},0L0,{r * 1.15:.1f}L{-r * 1.15:.1f},0z"
    if shape == "triangle":
        return f"M0,{-r * 1.15:.1f}L{r * 1.1:.1f},{r * 0.8:.1f}L{-r * 1.1:.1f},{r * 0.8:.1f}z"
    return f"M{-r:.1f},0a{r:.1f},{r:.1f} 0 1,0 {2 * r:.1f},0a{r:.1f},{r:.1f} 0 1,0 {-2 * r:.1f},0z"


def _ticks(t0: float, t1: float, most: int = 12) -> list:
    span = max(t1 - t0, 1e-9)
    raw = span / most
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(t0 / step) * step
    out, t = [], first
    while t <= t1 + step * 1e-6:
        out.append(round(t, 6))
        t += step
    return out


def _lanes(v: View) -> list:
    """Lanes in reading order: the experiment, then each instance with its jobs under it."""
    experiment = Lane("experiment", "experiment", "experiment", f"{v.method} / {v.recovery or '?'}")
    lanes: list = [experiment]
    by_subject: dict = {}
    placed_jobs: set = set()
    jobs = {j.job_id: j for j in v.jobs}

    def add_job(job_id: str, depth: int) -> None:
        if job_id in placed_jobs:
            return
        placed_jobs.add(job_id)
        job = jobs.get(job_id)
        label = (job.job_name if job and job.job_name else job_id) + (
            f" [{job.array_index}]" if job and job.array_index is not None else ""
        )
        sub = job_id if job and job.job_name else ""
        if job and job.recovered_job_id and job.recovered_job_id != job_id:
            sub = f"{sub} \u2192 {job.recovered_job_id}".strip()
        lane = Lane("job", f"job:{job_id}", label, sub, depth, failed=bool(job) and job.passed is not True)
        lanes.append(lane)
        by_subject.setdefault(f"job:{job_id}", lane)
        if job and job.recovered_job_id:  # the successor's events continue this lane
            by_subject.setdefault(f"job:{job.recovered_job_id}", lane)

    def add_instance(iid: str, itype: Optional[str], ce: Optional[str], job_ids: list) -> None:
        if f"instance:{iid}" in by_subject:
            return
        lane = Lane("instance", f"instance:{iid}", iid, " / ".join(x for x in (itype, ce) if x))
        lanes.append(lane)
        by_subject[lane.subject] = lane
        for jid in job_ids + [j.job_id for j in v.jobs if j.instance_id == iid]:
            add_job(jid, 1)

    for t in v.targets:
        add_instance(t.instance_id, t.instance_type, t.compute_environment, t.jobs)
    for j in v.jobs:
        if j.instance_id:
            add_instance(j.instance_id, None, None, [])
    for j in v.jobs:
        add_job(j.job_id, 0)
    for e in v.events:
        s = e.subject or ""
        if s in by_subject:
            continue
        if s.startswith("instance:") and len(s) > 9:
            add_instance(s[9:], None, None, [])
        elif s.startswith("job:") and len(s) > 4:
            add_job(s[4:], 0)
    for e in v.events:
        by_subject.get(e.subject or "", experiment).events.append(e)
    experiment.bars = [s for s in v.journal if s.start is not None]
    if not experiment.events and not experiment.bars:
        lanes.remove(experiment)
    return lanes


def _layout(v: View, lanes: list) -> dict:
    times = [e.t for e in v.events if e.t is not None]
    times += [t for s in v.journal for t in (s.start, s.end) if t is not None]
    times += [r.t for r in v.rollbacks if r.t is not None]
    if not times:
        return {}
    t0 = min(0.0, min(times))
    t1 = max(times + ([v.duration] if v.duration else []))
    if t1 - t0 < 1e-6:
        t1 = t0 + 1.0

    def x(t: float) -> float:
        return round(PLOT_X0 + (t - t0) / (t1 - t0) * (PLOT_X1 - PLOT_X0), 1)

    for i, lane in enumerate(lanes):
        lane.y = LANE_Y0 + i * LANE_H + LANE_H / 2
        timed = sorted((e for e in lane.events if e.t is not None), key=lambda e: e.t)
        prev_x, level = None, 0
        for e in timed:
            ex = x(e.t)
            level = (level + 1) % 3 if prev_x is not None and ex - prev_x < 16 else 0
            glyph, shape, colour, meaning = KIND_STYLE[e.key]
            lane.markers.append(
                {
                    "x": ex,
                    "y": lane.y + (0, -11, 11)[level],
                    "key": e.key,
                    "kind": e.kind,
                    "glyph": glyph,
                    "path": _shape_path(shape),
                    "colour": colour,
                    "title": f"{e.kind} at {seconds(e.t)}" + (f" ({e.at})" if e.at else "")
                    + (f": {e.detail}" if e.detail else ""),
                }
            )
            prev_x = ex
        below = False
        for a, b in zip(timed, timed[1:]):
            xa, xb = x(a.t), x(b.t)
            dt = b.t - a.t
            state = "up" if a.key in ("RUNNING", "RUNNING-again") else "down" if a.key in (
                "interrupted", "FAILED") else "wait"
            lane.segments.append({"x1": xa, "x2": xb, "state": state, "title": ""})
            label = "+" + seconds(dt)
            if label == "+0 s":
                continue
            narrow = xb - xa < 7 * len(label)
            below = (not below) if narrow else False
            lane.steps.append(
                {
                    "x": round((xa + xb) / 2, 1),
                    "y": lane.y + (24 if below else -15),
                    "label": label,
                    "title": f"{a.kind} \u2192 {b.kind}: {seconds(dt)}",
                }
            )
        if lane.failed:
            start = x(timed[-1].t) if timed else PLOT_X0
            lane.segments.append(
                {"x1": start, "x2": PLOT_X1, "state": "down", "title": "not recovered by the end of the run"}
            )
        for s in lane.bars:
            end = s.end if s.end is not None else s.start
            lane.segments.append(
                {
                    "x1": x(s.start),
                    "x2": max(x(end), x(s.start) + 2),
                    "state": "step-" + ("failed" if s.status == "failed" else s.type if s.type in (
                        "probe", "action", "rollback") else "other"),
                    "title": f"{s.type} {s.name}: {s.status or '?'}, {seconds(s.start)} to {seconds(s.end)}",
                }
            )
    injected = [
        {"x": x(e.t), "title": f"injected at {seconds(e.t)}: {e.detail}".rstrip(": ")}
        for e in v.events
        if e.key == "injected" and e.t is not None
    ]
    return {
        "ticks": [{"x": x(t), "label": f"{t:g} s"} for t in _ticks(t0, t1)],
        "injected": injected,
        "height": LANE_Y0 + len(lanes) * LANE_H + 12,
        "bottom": LANE_Y0 + len(lanes) * LANE_H,
    }


def _time_factor(ts: Optional[float]) -> str:
    if ts is None:
        return "time factor unknown"
    if ts == 1:
        return "real time (x1)"
    return f"durations x{ts:g}: PT2M -> {seconds(120 * ts)}"


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["s"] = seconds

_TEMPLATE = _ENV.from_string(
    r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>spotkit chaos {{ v.verdict }}: {{ v.method }} ({{ v.env }}) {{ v.run_id }}</title>
<style>
:root { --fg:#0f172a; --muted:#475569; --line:#cbd5e1; --pass:#15803d; --fail:#b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", "Liberation Sans", sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 20px 40px; }
header { display: flex; gap: 18px; align-items: center; flex-wrap: wrap; border-bottom: 2px solid var(--line);
  padding-bottom: 12px; }
.verdict { font-size: 28px; font-weight: 800; letter-spacing: .04em; color: #fff; padding: 4px 16px;
  border-radius: 6px; }
.verdict.pass { background: var(--pass); } .verdict.fail { background: var(--fail); }
h1 { font-size: 20px; margin: 0; } h2 { font-size: 17px; margin: 26px 0 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 14px; margin: 12px 0 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.banner { margin: 12px 0 0; padding: 8px 12px; border-left: 5px solid var(--fail); background: #fef2f2;
  overflow-wrap: anywhere; white-space: pre-wrap; }
.banner.warn { border-color: #b45309; background: #fffbeb; }
figure { margin: 0; } svg.timeline { width: 100%; height: auto; display: block; border: 1px solid var(--line);
  border-radius: 4px; background: #fff; }
.axis text, .tick text { font-size: 11px; fill: var(--muted); }
.tick line { stroke: #e2e8f0; }
.lane-bg { fill: #fff; stroke: #e2e8f0; stroke-width: 0.5; } .lane-bg.odd { fill: #f8fafc; }
.lane-instance .lane-bg { fill: #eef2f7; }
.lane-label { font-size: 13px; fill: var(--fg); } .lane-label.instance { font-weight: 700; }
.lane-label.experiment { font-style: italic; }
.lane-sub { font-size: 10.5px; fill: var(--muted); }
.seg { stroke-width: 3; stroke: #94a3b8; } .seg.up { stroke: #22c55e; } .seg.down { stroke: #ef4444;
  stroke-dasharray: 5 3; }
.seg.step-probe { stroke: #93c5fd; stroke-width: 6; } .seg.step-action { stroke: #c084fc; stroke-width: 6; }
.seg.step-rollback { stroke: #94a3b8; stroke-width: 6; } .seg.step-failed { stroke: #f87171; stroke-width: 6; }
.seg.step-other { stroke: #cbd5e1; stroke-width: 6; }
.marker text { font-size: 9px; font-weight: 700; fill: #fff; text-anchor: middle; dominant-baseline: central; }
.marker path { stroke: #fff; stroke-width: 1.5; }
.step { font-size: 10.5px; fill: #334155; text-anchor: middle; }
.lane-verdict { font-size: 11.5px; font-weight: 700; fill: var(--fail); text-anchor: end; }
.injected-line { stroke: #6b21a8; stroke-dasharray: 3 3; stroke-width: 1.5; }
.injected-label { font-size: 11px; fill: #6b21a8; font-weight: 700; }
ul.legend { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
ul.legend li { display: flex; align-items: center; gap: 6px; font-size: 12.5px; }
ul.legend svg { width: 22px; height: 22px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
caption { text-align: left; color: var(--muted); padding: 0 0 4px; }
th, td { border: 1px solid var(--line); padding: 4px 7px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { overflow-wrap: normal; } td.nowrap { overflow-wrap: normal; white-space: nowrap; }
th { background: #f1f5f9; } tbody tr:nth-child(even) { background: #f8fafc; }
td.num { text-align: right; white-space: nowrap; }
.ok { color: var(--pass); font-weight: 700; } .bad { color: var(--fail); font-weight: 700; }
pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 12em; overflow: auto; font-size: 12px; }
ul.problems { margin: 0; padding-left: 18px; }
.empty { color: var(--muted); font-style: italic; }
@media print { .tick line { stroke: #ddd; } }
</style>
</head>
<body>
<main>
<header>
  <div class="verdict {{ 'pass' if v.passed else 'fail' }}" role="status">{{ v.verdict }}</div>
  <h1>spotkit chaos: {{ v.method }} in {{ v.env }}</h1>
</header>
<dl class="facts">
  <dt>run id</dt><dd>{{ v.run_id }}</dd>
  <dt>recovery proven</dt><dd>{{ v.recovery or '-' }}</dd>
  <dt>method</dt><dd>{{ v.method }}</dd>
  <dt>env</dt><dd>{{ v.env }}</dd>
  <dt>hashicorp/aws</dt><dd class="provider">{{ v.aws_provider_version or '-' }}</dd>
  <dt>started</dt><dd>{{ v.started_at or '-' }}</dd>
  <dt>finished</dt><dd>{{ v.finished_at or '-' }} ({{ v.duration | s }})</dd>
  <dt>time factor</dt><dd class="time-factor">{{ time_factor }}</dd>
  <dt>jobs</dt><dd>{{ v.jobs | length }} ({{ v.jobs | selectattr('passed') | list | length }} recovered)</dd>
</dl>
{% if v.interrupted %}
<p class="banner warn" role="alert">Interrupted by {{ v.interrupted }}: the run did not finish.</p>
{% endif %}
{% if not v.passed %}
<p class="banner" role="alert">Failure: {{ v.failure_reason or 'the experiment did not pass' }}</p>
{% endif %}
{% if v.legacy %}
<p class="banner warn">This report predates per-job results and events: the timeline shows its log lines.</p>
{% endif %}

<h2 id="timeline">Timeline</h2>
{% if geo %}
<figure>
<svg class="timeline" role="img" aria-labelledby="tl-title tl-desc" viewBox="0 0 {{ width }} {{ geo.height }}"
  width="{{ width }}" height="{{ geo.height }}" preserveAspectRatio="xMinYMin meet">
<title id="tl-title">Timeline of run {{ v.run_id }}: one lane per instance and per job, seconds since run start</title>
<desc id="tl-desc">{{ lanes | length }} lanes; markers for each event; labels between markers give the seconds between consecutive steps.</desc>
<g class="axis"><text x="{{ label_x }}" y="{{ axis_y - 12 }}">seconds since run start</text></g>
{% for t in geo.ticks %}
<g class="tick"><line x1="{{ t.x }}" x2="{{ t.x }}" y1="{{ axis_y }}" y2="{{ geo.bottom }}"/>
<text x="{{ t.x }}" y="{{ axis_y - 4 }}" text-anchor="middle">{{ t.label }}</text></g>
{% endfor %}
{% for lane in lanes %}
<g class="lane lane-{{ lane.kind }}" data-subject="{{ lane.subject }}">
<title>{{ lane.kind }} {{ lane.label }}{% if lane.sub %} ({{ lane.sub }}){% endif %}: {{ lane.markers | length }} events</title>
<rect class="lane-bg{{ ' odd' if loop.index is odd else '' }}" x="0" y="{{ lane.y - lane_h / 2 }}" width="{{ width }}" height="{{ lane_h }}"/>
<text class="lane-label {{ lane.kind }}" x="{{ label_x + 16 * lane.depth }}" y="{{ lane.y - 3 }}">{{ '└ ' if lane.depth else '' }}{{ short(lane.label) }}</text>
{% if lane.sub %}<text class="lane-sub" x="{{ label_x + 16 * lane.depth + (12 if lane.depth else 0) }}" y="{{ lane.y + 12 }}">{{ short(lane.sub, 44) }}</text>{% endif %}
{% for s in lane.segments %}
<line class="seg {{ s.state }}" x1="{{ s.x1 }}" x2="{{ s.x2 }}" y1="{{ lane.y + (16 if s.state.startswith('step-') else 0) }}" y2="{{ lane.y + (16 if s.state.startswith('step-') else 0) }}">{% if s.title %}<title>{{ s.title }}</title>{% endif %}</line>
{% endfor %}
{% if lane.failed %}<text class="lane-verdict" x="{{ plot_x1 }}" y="{{ lane.y - 8 }}">NOT recovered</text>{% endif %}
{% for st in lane.steps %}
<text class="step" x="{{ st.x }}" y="{{ st.y }}"><title>{{ st.title }}</title>{{ st.label }}</text>
{% endfor %}
{% for m in lane.markers %}
<g class="marker kind-{{ m.key }}" data-kind="{{ m.kind }}" transform="translate({{ m.x }},{{ m.y }})"><title>{{ m.title }}</title>
<path d="{{ m.path }}" fill="{{ m.colour }}"/><text>{{ m.glyph }}</text></g>
{% endfor %}
</g>
{% endfor %}
{% for i in geo.injected %}
<g class="injected"><title>{{ i.title }}</title>
<line class="injected-line" x1="{{ i.x }}" x2="{{ i.x }}" y1="{{ axis_y }}" y2="{{ geo.bottom }}"/>
<text class="injected-label" x="{{ i.x + 3 }}" y="{{ geo.bottom + 10 }}">injected</text></g>
{% endfor %}
</svg>
<figcaption>
<ul class="legend" aria-label="legend">
{% for key, st in styles %}
<li class="legend-{{ key }}"><svg viewBox="-12 -12 24 24" aria-hidden="true"><path d="{{ st.path }}" fill="{{ st.colour }}"/>
<text x="0" y="0" font-size="9" font-weight="700" fill="#fff" text-anchor="middle" dominant-baseline="central">{{ st.glyph }}</text></svg>
<span><b>{{ key }}</b> {{ st.meaning }}</span></li>
{% endfor %}
<li><span><b>+N s</b> seconds between consecutive steps on a lane; green line: running, dashed red: down or not recovered</span></li>
</ul>
</figcaption>
</figure>
{% else %}
<p class="empty">No timed events were recorded.</p>
{% endif %}

<h2 id="jobs">Jobs</h2>
{% if v.jobs %}
<table class="jobs">
<caption>Seconds are counted from the injection.</caption>
<thead><tr><th scope="col">job</th><th scope="col">instance</th><th scope="col">result</th><th scope="col">recovery</th>
<th scope="col">recovered job</th><th scope="col">successors</th><th scope="col">to FAILED</th><th scope="col">to recovered</th>
<th scope="col">to RUNNING again</th><th scope="col">problems</th></tr></thead>
<tbody>
{% for j in v.jobs %}
<tr><td>{{ j.title }}</td><td class="nowrap">{{ j.instance_id or '-' }}</td>
<td class="nowrap">{% if j.passed %}<span class="ok">recovered</span>{% elif j.passed is none %}<span class="bad">unknown</span>{% else %}<span class="bad">NOT recovered</span>{% endif %}</td>
<td class="nowrap">{{ j.recovery or '-' }}</td><td>{{ j.recovered_job_id or '-' }}</td>
<td class="num">{{ '-' if j.successors is none else j.successors }}</td>
<td class="num">{{ j.seconds_to_failure | s }}</td><td class="num">{{ j.seconds_to_recovery | s }}</td>
<td class="num">{{ j.seconds_to_running | s }}</td>
<td>{% if j.problems %}<ul class="problems">{% for p in j.problems %}<li>{{ p }}</li>{% endfor %}</ul>{% else %}-{% endif %}</td></tr>
{% endfor %}
</tbody></table>
{% else %}
<p class="empty">No job was recorded.</p>
{% endif %}

<h2 id="journal">Journal</h2>
{% if v.journal %}
<table class="journal">
<caption>Probes, actions and rollbacks in order; seconds since run start.</caption>
<thead><tr><th scope="col">type</th><th scope="col">name</th><th scope="col">start</th><th scope="col">end</th>
<th scope="col">took</th><th scope="col">status</th><th scope="col">output / error</th></tr></thead>
<tbody>
{% for s in v.journal %}
<tr><td class="nowrap">{{ s.type }}</td><td>{{ s.name }}</td><td class="num">{{ s.start | s }}</td><td class="num">{{ s.end | s }}</td>
<td class="num">{{ s.seconds | s }}</td>
<td class="nowrap"><span class="{{ 'bad' if s.status == 'failed' else 'ok' if s.status == 'succeeded' else '' }}">{{ s.status or '-' }}</span></td>
<td>{% if s.error %}<pre class="bad">{{ clip(s.error) }}</pre>{% endif %}{% if s.output is not none %}<pre>{{ clip(s.output) }}</pre>{% endif %}{% if s.output is none and not s.error %}-{% endif %}</td></tr>
{% endfor %}
</tbody></table>
{% else %}
<p class="empty">No journal was recorded.</p>
{% endif %}

<h2 id="steady-state">Steady state</h2>
{% if v.probes %}
<table class="steady-state">
<thead><tr><th scope="col">when</th><th scope="col">probe</th><th scope="col">tolerance</th><th scope="col">value</th><th scope="col">ok</th></tr></thead>
<tbody>
{% for p in v.probes %}
<tr><td>{{ p.when }}</td><td>{{ p.name }}</td><td>{{ p.tolerance or '-' }}</td><td>{{ p.value or '-' }}</td>
<td>{% if p.ok %}<span class="ok">ok</span>{% else %}<span class="bad">DEVIATED</span>{% endif %}</td></tr>
{% endfor %}
</tbody></table>
{% else %}
<p class="empty">No steady-state probe was recorded.</p>
{% endif %}

<h2 id="rollbacks">Rollbacks</h2>
{% if v.rollbacks %}
<table class="rollbacks">
<thead><tr><th scope="col">name</th><th scope="col">status</th><th scope="col">at</th><th scope="col">detail</th></tr></thead>
<tbody>
{% for r in v.rollbacks %}
<tr><td>{{ r.name }}</td><td><span class="{{ 'ok' if r.ok else 'bad' }}">{{ r.status or 'unknown' }}</span></td>
<td class="num">{{ r.t | s }}</td><td>{{ r.detail or '-' }}</td></tr>
{% endfor %}
</tbody></table>
{% else %}
<p class="empty">No rollback was needed or recorded.</p>
{% endif %}

<h2 id="events">Events</h2>
{% if v.events %}
<details><summary>{{ v.events | length }} events</summary>
<table class="events">
<thead><tr><th scope="col">t</th><th scope="col">at</th><th scope="col">subject</th><th scope="col">kind</th><th scope="col">detail</th></tr></thead>
<tbody>
{% for e in v.events %}
<tr><td class="num">{{ e.t | s }}</td><td>{{ e.at or '-' }}</td><td>{{ e.subject or '-' }}</td><td>{{ e.kind }}</td><td>{{ clip(e.detail, 4000) or '-' }}</td></tr>
{% endfor %}
</tbody></table>
</details>
{% else %}
<p class="empty">No event was recorded.</p>
{% endif %}

{% if v.config %}
<h2 id="config">Configuration</h2>
<table class="config"><tbody>
{% for k, val in v.config | dictsort %}
<tr><th scope="row">{{ k }}</th><td>{{ val }}</td></tr>
{% endfor %}
</tbody></table>
{% endif %}
</main>
</body>
</html>
"""
)


def render_html(report: dict) -> str:
    """The report as one self-contained HTML page (a string; inline CSS and SVG, no script, no URL).

    A header (PASS/FAIL, method, env, run id, time factor, failure reason, interruption), a timeline
    (SVG; x axis in seconds since run start; one lane per instance with its jobs' lanes under it,
    plus an experiment lane for the journal and unattributed events; a marker per event with a
    glyph, a shape and a ``<title>``; the seconds between consecutive markers labelled), a legend,
    then tables: jobs, journal, steady state, rollbacks, events, configuration.
    Never raises on a malformed report.
    """
    v = view(report)
    lanes = _lanes(v)
    geo = _layout(v, lanes)
    styles = [
        (k, {"glyph": g, "path": _shape_path(shape), "colour": c, "meaning": m})
        for k, (g, shape, c, m) in KIND_STYLE.items()
    ]
    return _TEMPLATE.render(
        v=v,
        lanes=lanes,
        geo=geo,
        styles=styles,
        time_factor=_time_factor(v.time_scale),
        short=_short,
        width=WIDTH,
        label_x=LABEL_X,
        axis_y=AXIS_Y,
        lane_h=LANE_H,
        plot_x1=PLOT_X1,
        clip=_clip,
    )

