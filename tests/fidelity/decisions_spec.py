"""Generates tests/events/decisions/*.json: one sample spotkit decision event per detail-type.

Each sample is built by spotkit.core.decisions from a sample "Batch Job State Change" event of
tests/events/ (themselves captured AWS payloads, see tests/events/README.md) wrapped in the envelope
EventBridge gives every event a rule delivers (EventBridge User Guide, "Amazon EventBridge event
structure", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html).
tests/test_decision_events.py checks the files equal what this script generates, validates them
against schemas/decision-event.schema.json and compares their shape with what the function really
publishes on moto. Run: ``.venv/bin/python tests/fidelity/decisions_spec.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS.parent / "scripts"))

from spotkit.core.classify import Decision  # noqa: E402
from spotkit.core.decisions import SOURCE, DetailType, decision_detail, put_events_entry  # noqa: E402
from spotkit.core.job import parse_event  # noqa: E402
from spotkit.core.lineage import Lineage  # noqa: E402

OUT = TESTS / "events" / "decisions"
NEW_JOB = "3c9d2b1a-8e7f-4a6b-9c5d-2e1f0a9b8c7d"
NEW_ARN = f"arn:aws:batch:us-east-1:123456789012:job/{NEW_JOB}"
FALLBACK_QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/spotkit-ondemand"
#: file -> (sample Batch event, decision, detail_type, keyword arguments of decision_detail)
SAMPLES = {
    "job_resubmitted": ("spot_reclaim", Decision.RESUBMITTED, DetailType.RESUBMITTED, {
        "resubmission": {"jobId": NEW_JOB, "jobArn": NEW_ARN, "arrayIndex": None, "fallback": False,
                         "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/spotkit-spot",
                         "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/spotkit-backtest:3",
                         "revisionFrom": None}}),
    "job_fell_back_to_on_demand": ("spot_reclaim", Decision.RESUBMITTED, DetailType.FELL_BACK, {
        "lineage": Lineage("0f0f0f0f-1111-4222-8333-444455556666", "0e0e0e0e-1111-4222-8333-444455556666", 1),
        "resubmission": {"jobId": NEW_JOB, "jobArn": NEW_ARN, "arrayIndex": None, "fallback": True,
                         "jobQueue": FALLBACK_QUEUE,
                         "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/spotkit-backtest:3",
                         "revisionFrom": None}}),
    "job_definition_revision_switched": ("spot_reclaim", Decision.RESUBMITTED, DetailType.REVISION_SWITCHED, {
        "resubmission": {"jobId": NEW_JOB, "jobArn": NEW_ARN, "arrayIndex": None, "fallback": False,
                         "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/spotkit-spot",
                         "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/spotkit-backtest:4",
                         "revisionFrom": 3}}),
    "job_not_resubmitted": ("exit_code", Decision.SKIPPED_NOT_RECLAIM, DetailType.NOT_RESUBMITTED, {}),
    "resubmission_budget_exhausted": ("spot_reclaim", Decision.BUDGET_EXHAUSTED, DetailType.BUDGET_EXHAUSTED, {
        "lineage": Lineage("0f0f0f0f-1111-4222-8333-444455556666", "0e0e0e0e-1111-4222-8333-444455556666", 3)}),
    "job_not_resubmittable": ("spot_reclaim", Decision.NOT_RESUBMITTABLE, DetailType.NOT_RESUBMITTABLE, {
        "error": "An error occurred (ClientException) when calling the SubmitJob operation: Job definition "
                 "spotkit-backtest:3 is INACTIVE and its family has no ACTIVE revision"}),
}


def build() -> dict[str, dict]:
    """``{file name: sample event}``."""
    out = {}
    for name, (source, decision, detail_type, kwargs) in SAMPLES.items():
        batch_event = json.loads((TESTS / "events" / f"{source}.json").read_text())
        job = parse_event(batch_event)
        reason = job.status_reason
        detail = decision_detail(decision, job, reason, max_resubmissions=3, batch_event_id=batch_event["id"],
                                 **kwargs)
        entry = put_events_entry(detail_type, detail)
        out[f"{name}.json"] = {
            "version": "0", "id": "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "detail-type": entry["DetailType"],
            "source": SOURCE, "account": "123456789012", "time": "2026-11-21T14:00:05Z", "region": "us-east-1",
            "resources": entry["Resources"], "detail": json.loads(entry["Detail"]),
        }
    return out


def render(event: dict) -> str:
    return json.dumps(event, indent=2) + "\n"


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, event in build().items():
        (OUT / name).write_text(render(event))
        print("wrote", OUT / name)
