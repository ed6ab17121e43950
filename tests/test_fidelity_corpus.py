"""The fidelity corpus (tests/fidelity/aws/, captured AWS payloads), its comparator and the sample events.

- every captured file is listed with a source in tests/fidelity/SOURCES.md, and the relations AWS keeps
  in its payloads hold in every capture (``resources == [jobArn]``, the ``tags`` placeholder, ...);
- ``shapes.compare`` reports a missing key, an extra key, a type change and a format change, and honours
  ``allow_extra`` / ``ignore``;
- every tests/events sample is exactly what tests/fidelity/events_spec.py builds from its captured base,
  and differs from that base's shape only where the spec declares it.
"""

from __future__ import annotations

import json
import re

import pytest
from fidelity import AWS_DIR, SOURCES_MD, capture_names, events_spec, load_capture, shapes

_EVENTS = {n: load_capture(n) for n in capture_names() if isinstance(load_capture(n), dict)}
BATCH_EVENTS = [n for n, e in _EVENTS.items() if e.get("detail-type") == "Batch Job State Change"]
EC2_EVENTS = [n for n, e in _EVENTS.items() if e.get("source") == "aws.ec2"]
SAMPLES = list(events_spec.EVENTS)


def _sources_rows() -> dict[str, list[str]]:
    rows = {}
    for line in SOURCES_MD.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([^`]+\.json)` \|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split(" | ")]
    return rows


# --- the corpus itself --------------------------------------------------------------------------------

def test_corpus_holds_the_payloads_the_team_checks_against():
    names = set(capture_names())
    assert {"docs_job_state_change_sample.json", "hls_job_state_change_failure.json", "hls_job_detail_failed_spot.json",
            "public_array_child_succeeded.json", "docs_ec2_spot_interruption_warning_sample.json",
            "docs_ec2_rebalance_recommendation_sample.json", "derived_job_state_change_failed_spot.json",
            "submit_job_errors.json"} <= names
    assert len(BATCH_EVENTS) >= 4 and len(EC2_EVENTS) >= 3


def test_every_capture_is_listed_with_a_source_and_every_row_has_a_file():
    rows = _sources_rows()
    assert set(rows) == set(capture_names())
    for name, cells in rows.items():
        what, source, captured, region, edits = cells
        assert what and source and captured and region and edits, name
        assert "http" in source or "github.com" in source or "built from" in source or "per entry" in source \
            or "public GitHub" in source, name
        if name.startswith("derived_"):
            assert "Derived, not a capture" in what and "built from" in source


@pytest.mark.parametrize("name", BATCH_EVENTS)
def test_batch_event_captures_keep_aws_relations(name):
    event = load_capture(name)
    assert event["source"] == "aws.batch" and event["version"] == "0"
    assert shapes.batch_event_semantics(event) == []


def test_documented_sample_has_no_status_reason_and_no_timeout():
    detail = load_capture("docs_job_state_change_sample")["detail"]
    assert detail["status"] == "RUNNABLE" and "statusReason" not in detail and "timeout" not in detail


def test_failed_captures_carry_no_timeout_and_spot_loss_no_exit_code():
    assert "timeout" not in load_capture("hls_job_state_change_failure")["detail"]
    assert "timeout" not in load_capture("derived_job_state_change_failed_spot")["detail"]
    spot = load_capture("hls_job_detail_failed_spot")
    assert spot["timeout"] == {"attemptDurationSeconds": 5400}  # DescribeJobs does return it
    assert all("exitCode" not in a["container"] for a in spot["attempts"]) and "exitCode" not in spot["container"]
    assert all(a["statusReason"].startswith("Host EC2 (instance ") for a in spot["attempts"])


def test_array_child_capture_names_the_parent_in_tags():
    detail = load_capture("public_array_child_succeeded")["detail"]
    parent, index = detail["jobId"].split(":")
    assert detail["arrayProperties"]["index"] == int(index)
    assert detail["tags"] == {"resourceArn": detail["jobArn"].rsplit(":", 1)[0]}
    assert detail["tags"]["resourceArn"].endswith(f"job/{parent}")


@pytest.mark.parametrize("name", EC2_EVENTS)
def test_ec2_events_name_one_instance(name):
    event = load_capture(name)
    assert event["detail-type"] in ("EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation")
    [arn] = event["resources"]
    assert shapes.string_format(arn) == "ec2-instance-arn"
    assert arn.endswith("instance/" + event["detail"]["instance-id"])


def test_submit_job_errors_have_code_status_and_source():
    errors = load_capture("submit_job_errors")
    assert {e["code"] for e in errors} >= {"ClientException", "ServerException", "TooManyRequestsException"}
    for e in errors:
        assert isinstance(e["http_status"], int) and 400 <= e["http_status"] < 600
        assert e["source"] and e["operation"]
        assert set(e) <= {"code", "http_status", "operation", "message", "source"}
        assert e.get("message", "x")
    inactive = [e for e in errors if "not in ACTIVE status" in e.get("message", "")]
    assert len(inactive) >= 2 and all(e["code"] == "ClientException" and e["http_status"] == 400 for e in inactive)


def test_account_ids_are_the_placeholder_except_documented_registries():
    for name in capture_names():
        text = (AWS_DIR / name).read_text(encoding="utf-8")
        accounts = set(re.findall(r"(?<![\d.-])(\d{12})(?![\d])", text)) - {"123456789012"}
        # 018923174646: an ECR image registry account (documented in SOURCES.md); 137112412989: AWS's own sample.
        assert accounts <= {"018923174646", "137112412989"}, (name, accounts)


# --- the comparator -----------------------------------------------------------------------------------

_ARN = "arn:aws:batch:us-east-1:123456789012:job/4c7599ae-0a82-49aa-ba5a-4727fcce14a8"
REF = {"detail": {"jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8", "status": "FAILED",
                  "attempts": [{"container": {"exitCode": 1}}, {"container": {}}], "tags": {"resourceArn": _ARN}}}


def _cand(**detail):
    cand = json.loads(json.dumps(REF))
    cand["detail"].update(detail)
    return cand


def test_compare_identical_is_empty():
    assert shapes.compare(_cand(), REF) == []


def test_compare_finds_a_missing_key():
    cand = _cand()
    del cand["detail"]["tags"]
    assert shapes.compare(cand, REF) == ["missing: detail.tags (reference: object)"]


def test_compare_finds_an_extra_key_unless_allowed_or_ignored():
    cand = _cand(timeout={"attemptDurationSeconds": 60})
    assert shapes.compare(cand, REF) == ["extra: detail.timeout (candidate: object)"]
    assert shapes.compare(cand, REF, allow_extra=["detail.time*"]) == []
    assert shapes.compare(cand, REF, ignore=["detail.timeout"]) == []


def test_compare_finds_a_type_change_including_null():
    assert shapes.compare(_cand(status=3), REF) == ["type: detail.status: candidate number, reference string"]
    cand = _cand(attempts=[{"container": {"exitCode": None}}])
    assert shapes.compare(cand, REF) == ["type: detail.attempts[].container.exitCode: candidate null, reference number"]


def test_compare_finds_a_format_change():
    assert shapes.compare(_cand(jobId="job-1"), REF) == [
        "format: detail.jobId: candidate string, reference string<uuid>"]
    assert shapes.compare(_cand(jobId="job-1"), REF, formats=False) == []


def test_compare_nested_extra_tag_key():
    cand = _cand(tags={"resourceArn": REF["detail"]["tags"]["resourceArn"], "team": "quant"})
    assert shapes.compare(cand, REF) == ["extra: detail.tags.team (candidate: string)"]


def test_keys_only_some_reference_elements_have_are_optional():
    assert shapes.compare(_cand(attempts=[{"container": {}}]), REF) == []
    merged = shapes.shape(REF)["keys"]["detail"]["keys"]["attempts"]["items"]["keys"]["container"]
    assert merged["optional"] == ["exitCode"]


def test_empty_lists_say_nothing_about_elements():
    assert shapes.compare(_cand(attempts=[]), REF) == []
    assert shapes.compare(_cand(attempts=[{"anything": 1}]), {"detail": {**REF["detail"], "attempts": []}}) == []


def test_union_reference_accepts_each_member():
    ref = {"v": [1, None]}
    assert shapes.compare({"v": [None]}, ref) == [] and shapes.compare({"v": [2]}, ref) == []
    assert shapes.compare({"v": ["x"]}, ref) == ["type: v[]: candidate string, reference null|number"]


def test_shape_rejects_non_json():
    with pytest.raises(TypeError):
        shapes.shape({"a": {1, 2}})


def test_semantics_catch_each_broken_relation():
    good = load_capture("hls_job_state_change_failure")
    assert shapes.batch_event_semantics(good) == []
    bad = json.loads(json.dumps(good))
    bad["resources"] = ["arn:aws:batch:us-west-2:123456789012:job/7a1e6a2c-33b4-4d6f-9f0a-1b2c3d4e5f60"]
    bad["detail"]["tags"] = {"team": "quant", "aws:batch:job-queue": "spotkit-spot"}
    problems = shapes.batch_event_semantics(bad)
    assert len(problems) == 2 and problems[0].startswith("resources") and problems[1].startswith("detail.tags")
    child = load_capture("public_array_child_succeeded")
    child["detail"]["arrayProperties"]["index"] = 3
    assert shapes.batch_event_semantics(child) == ["detail.arrayProperties.index 3 != 12 (from jobId)"]
    child["detail"]["tags"] = {"resourceArn": child["detail"]["jobArn"]}
    assert any(p.startswith("detail.tags") for p in shapes.batch_event_semantics(child))


def test_the_old_hand_written_shape_is_caught():
    """The pre-fix sample (job tags and timeout in the event) differs from the capture where it was wrong."""
    old = events_spec.build("spot_reclaim")
    old["detail"]["tags"] = {"team": "quant", "aws:batch:job-queue": "spotkit-spot"}
    old["detail"]["timeout"] = {"attemptDurationSeconds": 3600}
    diffs = shapes.compare(old, load_capture(events_spec.SPOT_DERIVED),
                           allow_extra=list(events_spec.COMMON_DIFFERENCES))
    assert "missing: detail.tags.resourceArn (reference: string<batch-job-arn>)" in diffs
    assert "extra: detail.tags.team (candidate: string)" in diffs
    assert "extra: detail.timeout (candidate: object)" in diffs


# --- the sample events (tests/events) -----------------------------------------------------------------

def test_sample_files_are_generated_from_the_spec():
    stale = [str(p) for p, text in events_spec.outputs().items() if p.read_text(encoding="utf-8") != text]
    assert stale == [], "run .venv/bin/python tests/fidelity/events_spec.py"
    on_disk = {p.stem for p in events_spec.EVENTS_DIR.glob("*.json")}
    assert on_disk == set(SAMPLES) | {"malformed"}


def _declared(name):
    sample = events_spec.EVENTS[name]
    return list(events_spec.COMMON_DIFFERENCES) + list(sample.differences), list(sample.differences)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_has_its_captured_base_shape(name):
    allow, ignore = _declared(name)
    event = json.loads((events_spec.EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    base = load_capture(events_spec.EVENTS[name].base)
    assert shapes.compare(event, base, allow_extra=allow, ignore=ignore) == []


@pytest.mark.parametrize("name", [n for n in SAMPLES if events_spec.EVENTS[n].differences])
def test_every_declared_difference_is_needed(name):
    """A declaration that hides nothing is stale: removing any one must make compare report something."""
    allow, ignore = _declared(name)
    event = events_spec.build(name)
    base = load_capture(events_spec.EVENTS[name].base)
    for pattern in events_spec.EVENTS[name].differences:
        diffs = shapes.compare(event, base, allow_extra=[p for p in allow if p != pattern],
                               ignore=[p for p in ignore if p != pattern])
        assert diffs, f"{name}: declared difference {pattern!r} hides nothing"


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_keeps_aws_relations_and_carries_no_job_tags_or_timeout(name):
    event = events_spec.build(name)
    assert shapes.batch_event_semantics(event) == []
    assert "timeout" not in event["detail"]
    assert set(event["detail"]["tags"]) == {"resourceArn"}


def test_array_child_sample_matches_the_captured_child_ids():
    sample = events_spec.build("array_child_reclaim")["detail"]
    capture = load_capture("public_array_child_succeeded")["detail"]
    for d in (sample, capture):
        assert shapes.string_format(d["jobId"]) == "array-child-id"
        assert shapes.string_format(d["jobArn"]) == "batch-array-child-arn"
        assert shapes.string_format(d["tags"]["resourceArn"]) == "batch-job-arn"
    assert shapes.compare(sample["arrayProperties"], capture["arrayProperties"]) == []


def test_malformed_sample_stays_malformed():
    from spotkit.core.job import MalformedEventError, parse_event

    event = json.loads((events_spec.EVENTS_DIR / "malformed.json").read_text(encoding="utf-8"))
    assert "jobQueue" not in event["detail"]
    with pytest.raises(MalformedEventError):
        parse_event(event)
