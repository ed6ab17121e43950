"""The classifier against an audited corpus of real AWS Batch / Amazon ECS reason strings.

tests/corpus/status_reasons.json holds each reason with where it was found, the expected decision
and why; docs/classification.md is generated from it (``python -m spotkit.classification_doc``).
Every entry goes through the public API (``is_reclaim_reason`` / ``matching_pattern`` /
``classify``); a sample goes through the Lambda handler as a synthetic FAILED event against moto.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from spotkit import classification_doc
from spotkit.classify import (
    DEFAULT_RECLAIM_PATTERNS,
    Decision,
    classify,
    is_reclaim_reason,
    matching_pattern,
    parse_event,
)
from spotkit.cli import main as spotkit_main

CORPUS = classification_doc.load_corpus()
RESUBMIT = [e for e in CORPUS if e["decision"] == "resubmit"]
# Handler sample: every resubmit entry, every container.reason entry, every 4th statusReason skip.
_SKIPS = [e for e in CORPUS if e["decision"] == "skip" and e["field"] == "statusReason"]
SAMPLE = RESUBMIT + [e for e in CORPUS if e["decision"] == "skip" and e["field"] == "container.reason"] + _SKIPS[::4]


def _id(entry: dict) -> str:
    return f"{entry['decision']}:{entry['field']}:{entry['reason'][:60]}"


def _detail(entry: dict, **extra) -> dict:
    """A FAILED job ``detail`` carrying ``entry``'s reason where AWS Batch puts it.

    ``statusReason`` entries are the job-level reason (and the last attempt's); ``container.reason``
    entries sit on the last attempt's container with an empty job-level reason, the case in which
    the classifier falls back to per-attempt reasons.
    """
    if entry["field"] == "statusReason":
        attempt = {"statusReason": entry["reason"], "container": {"exitCode": None}}
        status_reason = entry["reason"]
    else:
        attempt = {"statusReason": "", "container": {"exitCode": 1, "reason": entry["reason"]}}
        status_reason = ""
    return {"status": "FAILED", "statusReason": status_reason, "attempts": [attempt], **extra}


def test_corpus_is_large_and_covers_both_decisions():
    assert len(CORPUS) >= 30
    assert {e["decision"] for e in CORPUS} == {"resubmit", "skip"}
    assert {e["field"] for e in CORPUS} == {"statusReason", "container.reason"}
    # Several reclaimed instance ids, with and without the trailing period.
    hosts = [e["reason"] for e in RESUBMIT if e["reason"].startswith("Host EC2")]
    assert len(hosts) >= 3 and any(not h.endswith(".") for h in hosts)


@pytest.mark.parametrize("entry", CORPUS, ids=_id)
def test_public_api_decision(entry):
    expected = entry["decision"] == "resubmit"
    assert is_reclaim_reason(entry["reason"], DEFAULT_RECLAIM_PATTERNS) is expected
    pattern = matching_pattern(entry["reason"], DEFAULT_RECLAIM_PATTERNS)
    assert (pattern in DEFAULT_RECLAIM_PATTERNS) if expected else pattern is None


@pytest.mark.parametrize("entry", CORPUS, ids=_id)
def test_classify_decision(load_event, entry):
    job = parse_event(load_event("spot_reclaim", **_detail(entry)))
    skip, reason = classify(job, DEFAULT_RECLAIM_PATTERNS)
    if entry["decision"] == "resubmit":
        assert skip is None and reason == entry["reason"]
    else:
        assert skip is Decision.SKIPPED_NOT_RECLAIM and reason == entry["reason"]


@pytest.mark.parametrize("entry", SAMPLE, ids=_id)
def test_handler_decision(resubmit_app, lambda_context, load_event, batch_resources, entry):
    event = load_event("spot_reclaim", **_detail(entry, jobQueue=batch_resources.job_queue_arn,
                                                 jobDefinition=batch_resources.job_definition_arn))
    result = resubmit_app.handler(event, lambda_context)
    assert result["reason"] == entry["reason"]
    if entry["decision"] == "resubmit":
        assert result["decision"] == "resubmitted"
        new = resubmit_app.batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
        assert new["tags"]["spotkit:lineage"].endswith(f" previous={event['detail']['jobId']}")
    else:
        assert result["decision"] == "skipped_not_reclaim" and "newJobId" not in result


def test_env_override_opts_in_a_skipped_reason(resubmit_app, lambda_context, load_event, batch_resources,
                                               monkeypatch):
    """SPOTKIT_RECLAIM_PATTERNS replaces the defaults: Fargate task retirement becomes a resubmit and
    a Host EC2 reclaim, no longer listed, becomes a skip."""
    [retire] = [e for e in CORPUS if e["reason"].startswith("ECS is performing maintenance")]
    monkeypatch.setenv("SPOTKIT_RECLAIM_PATTERNS", json.dumps(["ECS is performing maintenance*"]))
    queue = {"jobQueue": batch_resources.job_queue_arn, "jobDefinition": batch_resources.job_definition_arn}
    result = resubmit_app.handler(load_event("spot_reclaim", **_detail(retire, **queue)), lambda_context)
    assert result["decision"] == "resubmitted"
    result = resubmit_app.handler(load_event("spot_reclaim", **_detail(RESUBMIT[0], **queue)), lambda_context)
    assert result["decision"] == "skipped_not_reclaim"


def test_doc_is_generated_from_corpus():
    committed = classification_doc.DOC_FILE.read_text(encoding="utf-8")
    assert committed == classification_doc.render_default(), \
        "docs/classification.md is stale: run .venv/bin/python -m spotkit.classification_doc"
    for entry in CORPUS:
        assert entry["reason"].replace("|", "\\|") in committed
    for pattern in DEFAULT_RECLAIM_PATTERNS:
        assert f"`{pattern}`" in committed


def test_doc_check_mode_detects_drift(tmp_path, monkeypatch):
    stale = tmp_path / "classification.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(classification_doc, "DOC_FILE", stale)
    assert classification_doc.main(["--check"]) == 1
    assert classification_doc.main([]) == 0
    assert classification_doc.main(["--check"]) == 0


@pytest.mark.parametrize("entry", CORPUS, ids=_id)
def test_every_entry_has_a_checkable_public_source_or_is_marked_synthetic(entry):
    """A source is a URL or a public repository path; the project's own fixtures and notes are not sources."""
    assert not re.search(r"spotkit (event )?fixture|tests/events/|reference notes|seed \d+", entry["source"]), entry
    if not entry.get("synthetic"):
        assert re.search(r"https?://|github\.com/|awsdocs/|code index", entry["source"]), entry


@pytest.mark.parametrize("bad", [
    [{"reason": "x", "field": "statusReason", "source": "s", "decision": "maybe", "why": "w"}],
    [{"reason": "x", "field": "detail", "source": "s", "decision": "skip", "why": "w"}],
    [{"reason": "x", "field": "statusReason", "source": "s", "decision": "skip"}],
    [{"reason": "x", "field": "statusReason", "source": "s", "decision": "skip", "why": "w"}] * 2,
    [{"reason": "x", "field": "statusReason", "source": "s", "decision": "skip", "why": "w", "synthetic": False}],
])
def test_corpus_loader_rejects_bad_entries(tmp_path, bad):
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError):
        classification_doc.load_corpus(path)


def test_cli_prints_decision_and_pattern(monkeypatch):
    monkeypatch.delenv("SPOTKIT_RECLAIM_PATTERNS", raising=False)
    runner = CliRunner()
    out = runner.invoke(spotkit_main, ["classify", "Host EC2 (instance i-04b17daec78ef4a0b) terminated."])
    assert out.exit_code == 0, out.output
    assert "decision: resubmit" in out.output and "Host EC2 (instance *) terminated*" in out.output

    out = runner.invoke(spotkit_main, ["classify", "--json", "OutOfMemoryError: Container killed due to memory usage"])
    assert out.exit_code == 0
    assert json.loads(out.output)["decision"] == "skip" and json.loads(out.output)["pattern"] is None

    out = runner.invoke(spotkit_main, ["classify", "--patterns", '["Task failed to start"]', "Task failed to start"])
    assert "decision: resubmit" in out.output

    out = runner.invoke(spotkit_main, ["classify", "--patterns", "not json", "x"])
    assert out.exit_code == 2


# ----------------------------------------------------------------------------- failure_class
#: The reasonClass the decision events carry, for the reasons whose class is not "other".
_EXPECTED_CLASS_PREFIXES = {
    "Host EC2 (instance i-0123456789abcdef0) stopped": "host",
    "Essential container in task exited": "exit_code",
    "Task failed due to container exit code": "exit_code",
    "Job attempt duration exceeded timeout": "timeout",
    "Canceled by JobStateTimeLimit action": "runnable_time_limit",
    "CannotPullContainerError": "image_pull",
    "OutOfMemoryError": "out_of_memory",
    "DockerTimeoutError": "container_start",
    "ResourceInitializationError": "container_start",
    "Dependent Job failed": "dependency",
    "Array Child Job failed": "array_child",
    "Terminated by user": "user",
    "Task stopped by user": "user",
}


@pytest.mark.parametrize("entry", CORPUS, ids=_id)
def test_failure_class_of_every_corpus_reason(entry):
    from spotkit.core.classify import failure_class
    from spotkit.core.job import JobDetail

    job = JobDetail(_detail(entry))
    got = failure_class(job)
    if entry["decision"] == "resubmit":
        assert got == "reclaim"
        return
    assert got != "reclaim"
    for prefix, expected in _EXPECTED_CLASS_PREFIXES.items():
        if entry["reason"].startswith(prefix):
            assert got == expected, entry["reason"]
