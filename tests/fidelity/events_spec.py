"""How every tests/events/*.json sample event is built from a captured payload (tests/fidelity/aws/).

Each sample event is ``base`` (a file in aws/) with the edits listed in ``EVENTS[name]``: first the
``COMMON`` identity edits (one job, ``backtest-2026q3`` in us-east-1, so tests and classification
entries keep the same ids), then the event's own. ``differences`` names, as ``shapes.compare``
``allow_extra`` / ``ignore`` patterns, every place where the sample deliberately departs from its
base's shape, each with the reason; tests/test_fidelity_corpus.py checks that the committed files
are exactly what ``build()`` returns and that ``shapes.compare`` finds nothing else.

Regenerate tests/events/*.json (except malformed.json, kept malformed by hand) and
tests/events/README.md with::

    .venv/bin/python tests/fidelity/events_spec.py          # writes
    .venv/bin/python tests/fidelity/events_spec.py --check  # exit 1 if stale

AWS behaviour relied on: AWS Batch User Guide, "Job state change events"
(https://docs.aws.amazon.com/batch/latest/userguide/batch_job_events.html) and the captures in
tests/fidelity/SOURCES.md. Where a sample goes beyond any capture it says "assumed, not verified".
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIDELITY_DIR = Path(__file__).resolve().parent
AWS_DIR = FIDELITY_DIR / "aws"
EVENTS_DIR = FIDELITY_DIR.parent / "events"
README = EVENTS_DIR / "README.md"

DELETE = object()  # an edit value: remove the key

ACCOUNT, REGION = "123456789012", "us-east-1"
JOB_ID = "7a1e6a2c-33b4-4d6f-9f0a-1b2c3d4e5f60"
ARRAY_PARENT_ID = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
INSTANCE = "i-0123456789abcdef0"
RECLAIM = f"Host EC2 (instance {INSTANCE}) terminated."
TASK = "1a2b3c4d5e6f70819a2b3c4d5e6f7081"
CONTAINER_INSTANCE = f"arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/spotkit/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TASK_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/spotkit/{TASK}"
LOG_STREAM = f"spotkit-backtest/default/{TASK}"
CREATED, STARTED, STOPPED = 1795268940000, 1795269000000, 1795269600000


def job_arn(job_id: str) -> str:
    return f"arn:aws:batch:{REGION}:{ACCOUNT}:job/{job_id}"


def attempt(reason: str, *, exit_code: Any = DELETE, container_reason: Any = DELETE) -> dict[str, Any]:
    """One ``attempts[]`` entry in the captured layout (hls FAILED capture / Spot JobDetail)."""
    container: dict[str, Any] = {"containerInstanceArn": CONTAINER_INSTANCE, "taskArn": TASK_ARN}
    if exit_code is not DELETE:
        container["exitCode"] = exit_code
    if container_reason is not DELETE:
        container["reason"] = container_reason
    container.update({"logStreamName": LOG_STREAM, "networkInterfaces": []})
    return {"container": container, "startedAt": STARTED, "stoppedAt": STOPPED, "statusReason": reason}


#: Identity edits applied to every sample (values spotkit's tests use; keys the base already has).
COMMON: list[tuple[str, Any]] = [
    ("id", "5f0e4b3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"),
    ("time", "2026-11-21T14:00:00Z"),
    ("region", REGION),
    ("account", ACCOUNT),
    ("resources", [job_arn(JOB_ID)]),
    ("detail.jobArn", job_arn(JOB_ID)),
    ("detail.jobName", "backtest-2026q3"),
    ("detail.jobId", JOB_ID),
    ("detail.jobQueue", f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/spotkit-spot"),
    ("detail.jobDefinition", f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/spotkit-backtest:3"),
    ("detail.createdAt", CREATED),
    ("detail.retryStrategy", {"attempts": 1, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "EXIT"},
                                                                {"onExitCode": "1", "action": "EXIT"}]}),
    ("detail.parameters", {"symbol": "ACME", "window": "90d"}),
    ("detail.container.image", "public.ecr.aws/docker/library/busybox:latest"),
    ("detail.container.command", ["sh", "-c", "echo backtest Ref::symbol; sleep 600"]),
    # Only the job's own variables: neither capture shows AWS_BATCH_* variables in the event.
    ("detail.container.environment", [{"name": "STRATEGY", "value": "mean-reversion"},
                                      {"name": "RESULTS_BUCKET", "value": "spotkit-results"}]),
    ("detail.container.resourceRequirements", [{"value": "2", "type": "VCPU"}, {"value": "4096", "type": "MEMORY"}]),
    ("detail.tags", {"resourceArn": job_arn(JOB_ID)}),
    ("detail.propagateTags", True),
]

#: Patterns allowed for every sample: spotkit's parameters / retry rule keys are free-form maps the API defines.
COMMON_DIFFERENCES: dict[str, str] = {
    "detail.parameters": "a free-form string map (SubmitJob parameters); its keys are the job's own",
    "detail.retryStrategy.evaluateOnExit[].onExitCode": "an EvaluateOnExit field of the API (the captured "
                                                        "rules use onReason / onStatusReason only)",
}

_EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/spotkit-backtest-execution"
_LOG_CONFIG = {"logDriver": "awslogs", "options": {"awslogs-group": "/aws/batch/job", "awslogs-region": REGION,
                                                   "awslogs-stream-prefix": "spotkit-backtest"}, "secretOptions": []}

#: Edits giving an event from the FAILED capture (``hls_job_state_change_failure.json``) spotkit's container.
_RAN = [
    ("detail.container.executionRoleArn", _EXECUTION_ROLE),
    ("detail.container.containerInstanceArn", CONTAINER_INSTANCE),
    ("detail.container.taskArn", TASK_ARN),
    ("detail.container.logStreamName", LOG_STREAM),
    ("detail.container.logConfiguration", _LOG_CONFIG),
    ("detail.startedAt", STARTED),
    ("detail.stoppedAt", STOPPED),
]
#: Same, for the Spot-loss base (derived from captures; no exitCode anywhere).
_SPOT = _RAN + [("detail.status", "FAILED"), ("detail.statusReason", RECLAIM), ("detail.attempts", [attempt(RECLAIM)])]
#: A job that failed before any container ran (no attempts, no container ids), from the FAILED capture.
_NEVER_RAN = [(p, v) for p, v in _RAN if p in ("detail.container.executionRoleArn", "detail.container.logConfiguration",
                                                 "detail.startedAt", "detail.stoppedAt")] + [
    ("detail.attempts", []),
    ("detail.container.exitCode", DELETE),
    ("detail.container.containerInstanceArn", DELETE),
    ("detail.container.taskArn", DELETE),
    ("detail.container.logStreamName", DELETE),
]
_NEVER_RAN_DIFF = {
    "detail.container.exitCode": "no container ran: assumed, not verified (no capture of such a FAILED event)",
    "detail.container.containerInstanceArn": "no container ran: assumed, not verified",
    "detail.container.taskArn": "no container ran: assumed, not verified",
    "detail.container.logStreamName": "no container ran: assumed, not verified",
}

FAILED_CAPTURE = "hls_job_state_change_failure.json"
SPOT_DERIVED = "derived_job_state_change_failed_spot.json"


@dataclass
class Sample:
    """One tests/events sample: ``base`` in aws/, ``edits`` after COMMON, declared shape ``differences``."""

    base: str
    summary: str
    edits: list[tuple[str, Any]] = field(default_factory=list)
    differences: dict[str, str] = field(default_factory=dict)
    job_tags: str = "any (the function reads the job's tags with DescribeJobs; give the job the tags the test needs)"


EVENTS: dict[str, Sample] = {
    "spot_reclaim": Sample(SPOT_DERIVED, "FAILED, one attempt lost to a Spot reclaim (the reference reclaim event)",
                           _SPOT),
    "at_cap": Sample(
        SPOT_DERIVED, "a reclaim of a job already resubmitted 3 times (at the default cap)", _SPOT,
        job_tags="the lineage of the 3rd resubmission, on the job (DescribeJobs), not in the event: "
                 "original 0f0f0f0f-1111-2222-3333-444444444444, previous 0e0e0e0e-1111-2222-3333-444444444444, "
                 "count 3 (the old sample carried them as spotkit:original-job-id / spotkit:previous-job-id / "
                 "spotkit:resubmission-count event tags), plus team=quant"),
    "resubmitted_once": Sample(
        SPOT_DERIVED, "a reclaim of a job resubmitted once", _SPOT,
        job_tags="the lineage of the 1st resubmission, on the job: original = previous = "
                 "0f0f0f0f-1111-2222-3333-444444444444, count 1 (old event tags as for at_cap), plus team=quant"),
    "legacy_vcpus_memory": Sample(
        SPOT_DERIVED, "a reclaim of a job whose definition uses the legacy vcpus/memory fields",
        _SPOT + [("detail.container.vcpus", 1), ("detail.container.memory", 2048),
                 ("detail.container.resourceRequirements", [])],
        {"detail.container.vcpus": "legacy field, as in the captured Spot JobDetail (hls_job_detail_failed_spot.json)",
         "detail.container.memory": "legacy field, as in the captured Spot JobDetail"}),
    "reclaim_in_last_attempt": Sample(
        SPOT_DERIVED, "FAILED with no job-level statusReason; the reclaim is only on the last attempt",
        _SPOT + [("detail.statusReason", DELETE),
                 ("detail.attempts", [attempt("Host EC2 (instance i-0fedcba9876543210) terminated.")])],
        {"detail.statusReason": "absent on purpose: exercises the per-attempt fallback (assumed, not verified "
                                "that AWS ever omits it on FAILED)"}),
    "multi_node": Sample(
        SPOT_DERIVED, "a multi-node parallel job lost to a reclaim (nodeProperties, no container)",
        _SPOT + [("detail.container", DELETE),
                 ("detail.nodeProperties", {"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
                     {"targetNodes": "0:", "container": {"image": "busybox", "command": ["true"]}}]})],
        {"detail.container": "multi-node jobs carry nodeProperties instead (JobDetail API); assumed, not verified "
                             "for events",
         "detail.nodeProperties": "JobDetail API field; no captured multi-node event"}),
    "unknown_fields": Sample(
        SPOT_DERIVED, "a reclaim event carrying fields spotkit does not know (forward compatibility)",
        _SPOT + [("detail.ecsPropertiesPreview", None), ("detail.isCancelled", False), ("detail.isTerminated", False),
                 ("detail.someFutureField", {"nested": [1, 2, 3]}),
                 ("detail.attempts", [{**attempt(RECLAIM), "taskProperties": [{"containers": []}]}])],
        {"detail.ecsPropertiesPreview": "unknown to spotkit on purpose", "detail.isCancelled": "JobDetail API field",
         "detail.isTerminated": "JobDetail API field", "detail.someFutureField": "invented on purpose",
         "detail.attempts[].taskProperties": "JobDetail API field (ECS properties jobs)"}),
    "array_child_reclaim": Sample(
        SPOT_DERIVED, "array child 7 of parent 9d8c7b6a-... lost to a reclaim",
        _SPOT + [("resources", [job_arn(f"{ARRAY_PARENT_ID}:7")]),
                 ("detail.jobArn", job_arn(f"{ARRAY_PARENT_ID}:7")),
                 ("detail.jobId", f"{ARRAY_PARENT_ID}:7"),
                 # The captured array child event names the PARENT in tags.resourceArn (public_array_child_succeeded).
                 ("detail.tags", {"resourceArn": job_arn(ARRAY_PARENT_ID)}),
                 ("detail.arrayProperties", {"index": 7, "statusSummary": {}})],
        {"detail.arrayProperties": "as in the captured array child event (public_array_child_succeeded.json)",
         "resources": "the child's ARN <parent>:7, as in the captured array child event",
         "detail.jobArn": "the child's ARN <parent>:7, as in the captured array child event",
         "detail.jobId": "the child's id <parent>:7, as in the captured array child event"},
        job_tags="the parent's tags (DescribeJobs of 9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a); children have no own tags"),
    "array_parent": Sample(
        FAILED_CAPTURE, "the array parent FAILED because a child failed (9 succeeded, 1 failed of 10)",
        _NEVER_RAN + [("resources", [job_arn(ARRAY_PARENT_ID)]), ("detail.jobArn", job_arn(ARRAY_PARENT_ID)),
                      ("detail.jobId", ARRAY_PARENT_ID), ("detail.tags", {"resourceArn": job_arn(ARRAY_PARENT_ID)}),
                      ("detail.statusReason", "Array Child Job failed"),
                      ("detail.arrayProperties", {"statusSummary": {
                          "STARTING": 0, "FAILED": 1, "RUNNING": 0, "SUCCEEDED": 9, "RUNNABLE": 0, "SUBMITTED": 0,
                          "PENDING": 0}, "size": 10})],
        {**_NEVER_RAN_DIFF, "detail.arrayProperties": "the parent's arrayProperties as DescribeJobs shows them (AWS "
                                                      "Batch User Guide, array_jobs.html); assumed, not verified for "
                                                      "events"}),
    "exit_code": Sample(
        FAILED_CAPTURE, "FAILED: the container exited 1 (not a reclaim)",
        _RAN + [("detail.statusReason", "Essential container in task exited"),
                ("detail.attempts", [attempt("Essential container in task exited", exit_code=1)]),
                ("detail.container.exitCode", 1)]),
    "exit_code_task_failed": Sample(
        FAILED_CAPTURE, "FAILED: 'Task failed due to container exit code 1' (not a reclaim)",
        _RAN + [("detail.statusReason", "Task failed due to container exit code 1"),
                ("detail.attempts", [attempt("Task failed due to container exit code 1", exit_code=1)]),
                ("detail.container.exitCode", 1)]),
    "timeout": Sample(
        FAILED_CAPTURE, "FAILED: the attempt exceeded its timeout (not a reclaim)",
        _RAN + [("detail.statusReason", "Job attempt duration exceeded timeout"),
                ("detail.attempts", [attempt("Job attempt duration exceeded timeout")]),
                ("detail.container.exitCode", DELETE)],
        {"detail.container.exitCode": "a killed container reports none (as in the Spot JobDetail capture); "
                                      "assumed, not verified for timeouts",
         "detail.attempts[].container.exitCode": "as above"}),
    "user_terminated": Sample(
        FAILED_CAPTURE, "FAILED: TerminateJob by a user (not a reclaim)",
        _RAN + [("detail.statusReason", "Terminated by user: superseded by rerun #42"),
                ("detail.attempts", [attempt("Terminated by user: superseded by rerun #42")]),
                ("detail.container.exitCode", DELETE)],
        {"detail.container.exitCode": "killed container: none (assumed, not verified)",
         "detail.attempts[].container.exitCode": "as above"}),
    "cannot_pull": Sample(
        FAILED_CAPTURE, "FAILED before any attempt: the image could not be pulled",
        _NEVER_RAN + [("detail.statusReason", "CannotPullContainerError: pull image manifest has been retried 5 "
                                              "time(s): failed to resolve ref "
                                              "public.ecr.aws/docker/library/busybox:nope: not found")],
        dict(_NEVER_RAN_DIFF)),
    "resource_init": Sample(
        FAILED_CAPTURE, "FAILED before any attempt: ResourceInitializationError",
        _NEVER_RAN + [("detail.statusReason", "ResourceInitializationError: unable to pull secrets or registry auth")],
        dict(_NEVER_RAN_DIFF)),
    "docker_timeout": Sample(
        FAILED_CAPTURE, "FAILED before any attempt: DockerTimeoutError",
        _NEVER_RAN + [("detail.statusReason",
                       "DockerTimeoutError: Could not transition to started; timed out after waiting 4m0s")],
        dict(_NEVER_RAN_DIFF)),
    "dependent_failed": Sample(
        FAILED_CAPTURE, "FAILED because a dependency failed (never ran)",
        _NEVER_RAN + [("detail.statusReason", "Dependent Job failed"), ("detail.startedAt", DELETE),
                      ("detail.stoppedAt", DELETE)],
        {**_NEVER_RAN_DIFF, "detail.startedAt": "never started: assumed, not verified",
         "detail.stoppedAt": "assumed, not verified"}),
    "running": Sample(
        "docs_job_state_change_sample.json", "RUNNING (not terminal: the function ignores it)",
        [("detail.status", "RUNNING"), ("detail.startedAt", STARTED)],
        {"detail.startedAt": "set once the job starts (JobDetail API); the documented sample is RUNNABLE"}),
}


def _set(doc: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = copy.deepcopy(value)


def build(name: str) -> dict[str, Any]:
    """The sample event ``name`` (a key of EVENTS): its base with COMMON and its own edits applied.

    Raises KeyError for an unknown name or an edit whose parent key the base lacks.
    """
    sample = EVENTS[name]
    event = json.loads((AWS_DIR / sample.base).read_text(encoding="utf-8"))
    for path, value in COMMON + sample.edits:
        _set(event, path, value)
    return event


def render_json(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2) + "\n"


def _fmt(value: Any) -> str:
    if value is DELETE:
        return "*removed*"
    return f"`{json.dumps(value)}`"


def render_readme() -> str:
    """tests/events/README.md: per sample its base, edits, declared differences and the job tags a test needs."""
    lines = [
        "# tests/events: sample \"Batch Job State Change\" events",
        "",
        "Generated by `tests/fidelity/events_spec.py` (do not edit by hand; run "
        "`.venv/bin/python tests/fidelity/events_spec.py`). Each sample is a captured AWS payload from "
        "`tests/fidelity/aws/` (provenance in `tests/fidelity/SOURCES.md`) with the edits listed below; "
        "tests/test_fidelity_corpus.py checks the files equal the generated ones and that "
        "`shapes.compare` finds no difference from the base other than the declared ones.",
        "",
        "What every sample has, as AWS sends it: `resources == [detail.jobArn]`; `detail.tags` is the "
        "placeholder `{\"resourceArn\": ...}` (the job ARN; for an array child the *parent's* ARN, as in the "
        "captured child event), never the job's tags; no `detail.timeout` (no captured FAILED event has one; "
        "whether AWS sends it for a job that has a timeout is not verified). The job's tags and timeout come "
        "from DescribeJobs: a test must give the job (moto / emulator) the tags listed under \"job tags\".",
        "",
        "`malformed.json` is not generated: it is a FAILED event without `detail.jobQueue`, kept malformed on "
        "purpose.",
        "",
        "## Edits applied to every sample (identity)",
        "",
    ]
    lines += [f"- `{p}` = {_fmt(v)}" for p, v in COMMON]
    lines += ["", "Allowed everywhere: " + "; ".join(f"`{p}` ({why})" for p, why in COMMON_DIFFERENCES.items()), ""]
    for name, s in EVENTS.items():
        lines += [f"## {name}.json", "", s.summary, "", f"- base: `tests/fidelity/aws/{s.base}`"]
        lines += [f"- edit `{p}` = {_fmt(v)}" for p, v in s.edits]
        lines += [f"- differs from base at `{p}`: {why}" for p, why in s.differences.items()]
        lines += [f"- job tags: {s.job_tags}", ""]
    return "\n".join(lines)


def outputs() -> dict[Path, str]:
    """Every generated file and its content."""
    out = {EVENTS_DIR / f"{name}.json": render_json(build(name)) for name in EVENTS}
    out[README] = render_readme()
    return out


def main(argv: list[str]) -> int:
    stale = [p for p, text in outputs().items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for p in stale:
            print(f"stale: {p}")
        return 1 if stale else 0
    for p, text in outputs().items():
        p.write_text(text, encoding="utf-8")
    print(f"wrote {len(outputs())} files ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
