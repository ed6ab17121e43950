"""spotkit.core, the decision core shared by the function, ``spotkit classify``, chaos and bench,
held to captured AWS payloads (tests/fidelity/aws/, sources in tests/fidelity/SOURCES.md)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from spotkit import runtime
from spotkit.core import indexmap, lineage
from spotkit.core.classify import Decision, classify
from spotkit.core.decide import decide
from spotkit.core.job import JobDetail, MalformedEventError, parse_event
from spotkit.core.lineage import Lineage
from spotkit.core.submit import (
    SubmitRequestError,
    build_array_request,
    build_submit_request,
    revision_of,
    validate_submit_request,
)

AWS = Path(__file__).resolve().parent / "fidelity" / "aws"


def captured(name: str) -> dict:
    return json.loads((AWS / name).read_text())


# ------------------------------------------------------------------ decisions on real payloads
@pytest.mark.parametrize("name, decision", [
    ("docs_job_state_change_sample.json", Decision.SKIPPED_NOT_FAILED),        # RUNNABLE
    ("hls_job_state_change_failure.json", Decision.SKIPPED_NOT_RECLAIM),       # container exit 1
    ("derived_job_state_change_failed_spot.json", None),                       # Host EC2 ... terminated.
    ("public_array_child_succeeded.json", Decision.SKIPPED_NOT_FAILED),
])
def test_the_core_decides_right_on_every_captured_batch_event(name, decision, monkeypatch):
    monkeypatch.delenv("SPOTKIT_RECLAIM_PATTERNS", raising=False)
    job = parse_event(captured(name))
    assert job is not None and job.from_event
    assert classify(job)[0] is decision
    assert job.tags == {}  # the event's {"resourceArn": ...} is a placeholder, never the job's tags


@pytest.mark.parametrize("name", ["docs_ec2_spot_interruption_warning_sample.json",
                                  "nth_ec2_spot_interruption_warning.json",
                                  "docs_ec2_rebalance_recommendation_sample.json"])
def test_ec2_spot_events_are_not_batch_events(name):
    assert parse_event(captured(name)) is None


def test_a_captured_spot_jobdetail_is_a_reclaim_and_comes_back_as_submitted(monkeypatch):
    monkeypatch.delenv("SPOTKIT_RECLAIM_PATTERNS", raising=False)
    raw = captured("hls_job_detail_failed_spot.json")
    job = JobDetail.parse(raw, from_event=False)
    verdict = decide(job, lineage.of_job(job.tags, job.job_id), environ={})
    assert verdict.resubmit and verdict.job_queue == raw["jobQueue"]

    request, tagged = build_submit_request(job, verdict.lineage.successor(job.job_id))
    assert tagged
    assert request["jobDefinition"] == raw["jobDefinition"]  # the ARN with its revision
    assert request["retryStrategy"] == raw["retryStrategy"]
    assert request["timeout"] == raw["timeout"]
    assert request["propagateTags"] is raw["propagateTags"]
    assert request["containerOverrides"]["command"] == raw["container"]["command"]
    reqs = {r["type"]: r["value"] for r in request["containerOverrides"]["resourceRequirements"]}
    assert reqs == {"VCPU": str(raw["container"]["vcpus"]), "MEMORY": str(raw["container"]["memory"])}
    assert request["tags"] == {"spotkit:lineage": f"count=1 original={job.job_id} previous={job.job_id}"}
    assert "dependsOn" not in request
    validate_submit_request(request)


def test_an_event_view_never_turns_resourcearn_into_a_tag():
    job = parse_event(captured("derived_job_state_change_failed_spot.json"))
    request, _ = build_submit_request(job, Lineage(job.job_id, job.job_id, 1))
    assert set(request["tags"]) == {"spotkit:lineage"}
    assert "timeout" not in request  # the captured FAILED event has none: only DescribeJobs knows it


def test_malformed_detail_is_refused_with_the_field_named():
    event = captured("hls_job_state_change_failure.json")
    del event["detail"]["jobQueue"]
    with pytest.raises(MalformedEventError, match="detail.jobQueue"):
        parse_event(event)


# ------------------------------------------------------------------------------ lineage tag
def test_lineage_round_trips_through_one_tag_value():
    value = lineage.encode(Lineage("orig", "prev:3", 2, revision_from=7))
    assert value == "count=2 original=orig previous=prev:3 revision-from=7"
    assert len(value) <= lineage.MAX_TAG_VALUE_CHARS
    assert lineage.decode(value) == Lineage("orig", "prev:3", 2, 7)


@pytest.mark.parametrize("value", ["", "count=1", "count=x original=a previous=b", "count=-1 original=a previous=b"])
def test_malformed_lineage_is_refused(value):
    with pytest.raises(lineage.LineageError):
        lineage.decode(value)


def test_legacy_lineage_tags_are_read():
    tags = {"spotkit:original-job-id": "a", "spotkit:previous-job-id": "b", "spotkit:resubmission-count": "2"}
    assert lineage.read(tags, "c") == Lineage("a", "b", 2)
    assert lineage.previous_job_id(tags) == "b"
    assert lineage.user_tags({**tags, "team": "q", "aws:batch:x": "y"}) == {"team": "q"}


@pytest.mark.parametrize("users, tagged", [(0, True), (49, True), (50, False)])
def test_lineage_fits_under_the_50_tag_limit_up_to_49_user_tags(users, tagged):
    user = {f"k{i}": "v" for i in range(users)}
    tags, was_tagged = lineage.with_lineage({**user, "spotkit:lineage": "old"}, Lineage("a", "b", 1))
    assert was_tagged is tagged
    assert {k: v for k, v in tags.items() if k != "spotkit:lineage"} == user
    assert len(tags) <= lineage.MAX_TAGS


# ----------------------------------------------------------------------- SubmitJob limits
def _request(**extra):
    return {"jobName": "backtest-2026q3", "jobQueue": "q", "jobDefinition": "d:1", **extra}


@pytest.mark.parametrize("extra, problem", [
    ({"jobName": "-starts-with-hyphen"}, "jobName"),
    ({"jobName": "a" * 129}, "jobName"),
    ({"jobName": "has space"}, "jobName"),
    ({"arrayProperties": {"size": 1}}, "arrayProperties.size"),
    ({"arrayProperties": {"size": 10_001}}, "arrayProperties.size"),
    ({"dependsOn": [{"jobId": str(i)} for i in range(21)]}, "dependsOn"),
    ({"tags": {f"k{i}": "v" for i in range(51)}}, "51 tags"),
    ({"tags": {"k" * 129: "v"}}, "tag key"),
    ({"tags": {"k": "v" * 257}}, "257 characters"),
    ({"tags": {"aws:x": "v"}}, "reserved"),
    ({"timeout": {"attemptDurationSeconds": 59}}, "timeout"),
    ({"retryStrategy": {"attempts": 11}}, "retryStrategy.attempts"),
    ({"schedulingPriorityOverride": 10_000}, "schedulingPriorityOverride"),
])
def test_requests_breaking_submitjob_limits_are_refused(extra, problem):
    with pytest.raises(SubmitRequestError, match=problem):
        validate_submit_request(_request(**extra))


def test_requests_at_the_submitjob_limits_pass():
    validate_submit_request(_request(jobName="a" * 128, arrayProperties={"size": 10_000},
                                     dependsOn=[{"jobId": str(i)} for i in range(20)],
                                     tags={f"k{i}": "v" * 256 for i in range(50)},
                                     timeout={"attemptDurationSeconds": 60}, retryStrategy={"attempts": 10}))


def test_revision_of_job_definition_arns():
    assert revision_of("arn:aws:batch:us-east-1:123456789012:job-definition/spotkit-test:12") == ("spotkit-test", 12)
    assert revision_of("spotkit-test:3") == ("spotkit-test", 3)
    assert revision_of("spotkit-test") == ("spotkit-test", None)


# ---------------------------------------------------------------------------- index maps
def _samples(seed: int = 11):
    rng = random.Random(seed)
    for _ in range(200):
        k = rng.choice([1, 2, 7, 300, 2500])
        span = rng.choice([k, 2 * k, 10_000])
        yield sorted(rng.sample(range(span), min(k, span)))


def test_one_index_map_codec():
    assert indexmap.encode_index_map is runtime.encode_index_map
    assert indexmap.decode_index_map is runtime.decode_index_map
    for indexes in _samples():
        assert runtime.decode_index_map(runtime.encode_index_map(indexes)) == indexes


def test_chunks_cover_every_index_once_and_fit_one_array_job():
    for indexes in _samples():
        chunks = indexmap.split_for_arrays(indexes)
        assert [i for c in chunks for i in c] == indexes
        for chunk, following in zip(chunks, chunks[1:] + [None]):
            assert len(chunk) <= indexmap.MAX_ARRAY_SIZE
            assert len(runtime.encode_index_map(chunk)) <= indexmap.MAX_INDEX_MAP_CHARS
            if following:  # a chunk only closes when the next index would not fit
                trial = chunk + following[:1]
                assert len(trial) > indexmap.MAX_ARRAY_SIZE or \
                    len(runtime.encode_index_map(trial)) > indexmap.MAX_INDEX_MAP_CHARS


def test_contiguous_children_split_at_the_array_size_limit():
    assert [len(c) for c in indexmap.split_for_arrays(list(range(25_000)))] == [10_000, 10_000, 5_000]


def test_array_request_carries_the_map_and_the_groups_lineage():
    single = {"jobName": "sweep", "jobQueue": "q", "jobDefinition": "d:1", "tags": {"team": "q"},
              "containerOverrides": {"environment": [{"name": "SPOTKIT_ARRAY_INDEX", "value": "3"}]}}
    request = build_array_request(single, [9, 3, 4, 5], lineage=Lineage("p0", "p1", 2))
    assert request["arrayProperties"] == {"size": 4}
    assert request["containerOverrides"]["environment"] == [{"name": "SPOTKIT_ARRAY_INDEX_MAP", "value": "3-5,9"}]
    assert request["tags"] == {"team": "q", "spotkit:lineage": "count=2 original=p0 previous=p1"}
    with pytest.raises(ValueError):
        build_array_request(single, [1], lineage=Lineage("a", "b", 1))
