"""Narrow hooks into moto 5.2.5's in-process backends (the emulator owns its process).

Each hook says what moto does, what AWS does, and what the hook changes:

* ``Job.start`` (moto: runs the job in Docker or marks it SUCCEEDED at once) → no-op; the
  emulator's job engine (:mod:`spotkit.emulator.jobs`) drives every job.
* ``Job.status`` (moto: a ManagedState that may advance on read) → a plain attribute.
* ``Job.describe`` (moto: drops retryStrategy/propagateTags, re-appends AWS_BATCH_JOB_ID to the
  environment on every call) → a DescribeJobs JobDetail in AWS's shape (AWS Batch API
  Reference, "DescribeJobs" / "JobDetail").
* ``BatchResponse.submitjob`` (moto: ignores retryStrategy, propagateTags, shareIdentifier,
  schedulingPriorityOverride; accepts INACTIVE job definition revisions, a job named by name alone
  gets the latest revision even when INACTIVE, refuses 1-character job names AWS accepts, and
  checks none of SubmitJob's documented limits) → keeps them on the job, applies SubmitJob
  throttling, then :func:`validate_submit_job` (each rule cites its AWS page), answering
  ``ClientException`` (HTTP 400) like AWS.
* ``BatchResponse.registerjobdefinition`` (moto: accepts any ``timeout``) → refuses
  ``attemptDurationSeconds`` below 60 (:func:`validate_timeout`).
* ``BatchResponse.describejobs`` (moto: any number of ids) → more than 100 refused (AWS Batch API
  Reference, "DescribeJobs": "A list of up to 100 job IDs").
* Batch Job State Change events (AWS: the ``detail`` is the JobDetail with ``tags`` replaced by
  ``{"resourceArn": <job ARN>}``, per the captured event in tests/fidelity/aws/) → :func:`event_detail`.
* ``BatchBackend.create_compute_environment`` (moto: launches plain instances for
  desired/min vCPUs at once; stores no state when ``state`` is omitted) → launches nothing; capacity
  follows demand (:mod:`spotkit.emulator.capacity`); an omitted ``state`` is ENABLED.
* ``BatchBackend.create_job_queue`` (moto: "state must be provided") → ``state`` is optional, as in
  AWS's API reference, and ENABLED when omitted (the default is assumed, not verified).
* ``BatchResponse.createjobqueue`` / ``updatejobqueue`` / ``JobQueue.describe`` (moto: drops
  ``jobStateTimeLimitActions``, so hashicorp/aws 5.x, which reads them back, plans the
  ``job_state_time_limit_action`` blocks again after every apply) → validated as the API reference
  documents them (:func:`validate_time_limit_actions`), kept on the queue (UpdateJobQueue replaces
  them when given) and returned by DescribeJobQueues. Acting on them (cancelling a job stuck in
  RUNNABLE) is not modelled: the emulator has no capacity shortage to get stuck on.
* ``SpotFleetRequest.terminate_instances`` (moto: forgets to lower fulfilled capacity, so a
  fleet cut to 0 never relaunches) → keeps fulfilled capacity true.
* ``SpotFleetRequest.spot_fleet_request_config`` (moto: no ``Type``) → reports the request type
  (``maintain`` unless told otherwise), which is what decides whether it can be modified.
* ``Rule.send_to_targets`` (moto: a Lambda target raises NotImplementedError → HTTP 500) →
  Lambda targets go to the emulator's event dispatcher (:mod:`spotkit.emulator.events`).
* ``LambdaFunction`` (moto: does not keep DeadLetterConfig, so Terraform sees a perpetual diff)
  → keeps and returns it.
* ``LambdaBackend.create_event_source_mapping`` also gives an SQS mapping created without
  ``MaximumBatchingWindowInSeconds`` AWS's default, 0 (moto: none, so GetEventSourceMapping left it
  out; hashicorp/aws 5.x sends no 0).
* ``LambdaBackend.list_event_source_mappings`` (moto: ``FunctionName`` must equal the string the
  mapping was created with) → matched against the function, given by name, ARN or partial ARN, as
  the API reference has it (hashicorp/aws 5.x creates the kit's mapping with the function's ARN).
* ``LambdaBackend.create_event_source_mapping`` (moto: registers an SQS mapping on the queue, and
  every SendMessage then receives a batch synchronously and invokes the function in Docker, which
  fails here, leaving the message in flight) → the mapping is stored but not attached to the
  queue; the emulator's poller (:mod:`spotkit.emulator.esm`) consumes the queue as Lambda does.
* SQS queue scans (moto: ``Queue.messages`` and the approximate counts read the clock once per
  message, and every ReceiveMessage recomputes all queue attributes -- counts included -- once per
  message to read the retention period, so receiving from a queue of n messages costs O(n^2)
  clock reads: seconds per call at a thousand messages, where SQS answers in milliseconds) → the
  same visibility/delay rules with one clock read per scan, and the retention period read directly.
  Found by ``spotkit bench`` (a 1,000-job reclaim queues 1,000 events at once).
* ``Queue.delete_message`` / ``SQSBackend.receive_message`` (moto: a delete rebuilds the message
  list from a snapshot without the queue's lock, so a message sent -- or another message deleted --
  at the same moment is lost or comes back from the dead; the emulator sends from the data plane
  thread and deletes from several event source mapping invocations at once) → both run under the
  queue's message lock, the lock moto's ``add_message`` already takes. SQS never loses a message.
* ``Queue.attributes`` (moto: ``RedrivePolicy`` rendered with ``json.dumps`` defaults, i.e. with
  spaces; SQS returns it compact, and hashicorp/aws 3.39 compares the strings, so every plan after
  apply showed the events queue and, through it, the function's role policy as changed) → compact.
* ``EventSourceMapping.update_from_cloudformation_json`` (moto: applies only the properties present
  in the new template, so removing ``ScalingConfig`` or ``BatchSize`` from the stack kept the old
  values; CloudFormation resets a removed property to its default) → absent properties are reset.
* ``EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE`` (moto: the event a target receives has no
  ``account``; EventBridge's has, see every capture in tests/fidelity/aws/ and the EventBridge User
  Guide, "Amazon EventBridge events" → event structure) → ``account`` added, in AWS's key order.
* ``jsonpath_ng.ext.parse`` (moto's EventBridge builds a new JSONPath parser -- a yacc table --
  for each of the default input paths, for every event and every target: ~15 ms per delivered
  event) → memoized per expression (parsed expressions are immutable; ``find`` does not change them).
* ``ECSBackend.describe_container_instances`` / ``update_container_instances_state`` (moto: index
  ``container_instances[<cluster name>]`` without a default, so a cluster that never had a container
  instance -- e.g. an idle Batch CE's -- raised KeyError, an HTTP 500) → every id it cannot find is a
  ``failures`` entry with reason ``MISSING``, as ECS answers (Amazon ECS API Reference,
  DescribeContainerInstances; Amazon ECS Developer Guide, "API failure reasons").
* ``BaseResponse.call_action`` for Batch, ECS, EC2 and FIS (moto/Flask: any exception a handler does
  not turn into an AWS error is an HTTP 500 with an HTML page, and botocore retries it) → the
  service's client error, HTTP 400 (:data:`FAULT_ERRORS`), whose message says it is the emulator's
  fault, and an ERROR log line with the traceback. AWS answers no such request with a 500 page; the
  emulator must never look like AWS failing when it is the emulator that is broken.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import uuid
from datetime import datetime
from typing import Any, Callable, Optional

from moto.awslambda import exceptions as lambda_exceptions
from moto.awslambda import models as lambda_models
from moto.batch import models as batch_models
from moto.batch import responses as batch_responses
from moto.batch.exceptions import ClientException
from moto.core.utils import unix_time, unix_time_millis
from moto.ec2.models import spot_requests
from moto.events import models as events_models
from moto.sqs import models as sqs_models

from spotkit.aws import JOB_STATUSES

_installed = False
_lock = threading.Lock()
log = logging.getLogger("spotkit.emulator")

#: moto service name -> (the AWS error code an unhandled exception becomes, HTTP status, source). Each is
#: a client error the service's API reference lists: Batch ClientException ("These errors are usually
#: caused by a client action", every operation of the AWS Batch API Reference); ECS ClientException
#: (every operation of the Amazon ECS API Reference, e.g. DescribeContainerInstances); EC2 InvalidRequest
#: (EC2 API Reference, "Error codes for the Amazon EC2 API", common client errors: "The request received
#: was invalid"); FIS ValidationException ("The specified input is not valid", the AWS FIS API Reference's
#: operations); EventBridge ValidationException (the AWS common errors every JSON service may return,
#: HTTP 400). Not Lambda: moto routes its REST paths to handlers past ``call_action``, so a Lambda
#: fault is still a 500 (docs/emulator.md). Which of its listed errors AWS would
#: really give is unknowable for an emulator bug: these are chosen, not verified.
FAULT_ERRORS = {
    "batch": ("ClientException", 400),
    "ecs": ("ClientException", 400),
    "ec2": ("InvalidRequest", 400),
    "fis": ("ValidationException", 400),
    "events": ("ValidationException", 400),
}


def fault_message(service: str, action: str, exc: BaseException) -> str:
    """The error message of a request the emulator failed to serve (one line)."""
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return (f"Internal error in the spotkit emulator serving {service} {action} ({detail}); this is the "
            "emulator's fault, not AWS behaviour: see the emulator log")


def _fault_error(service: str, message: str):
    code, status = FAULT_ERRORS[service]
    if service == "batch":
        return ClientException(message)
    if service in ("fis", "events"):  # JSON error bodies (moto's JsonRESTError)
        from moto.core.exceptions import JsonRESTError

        err = JsonRESTError(code, message)
        err.code = status
        return err
    from moto.core.exceptions import ServiceException

    class Fault(ServiceException):  # ECS (JSON) and EC2 (query/XML) serialize ServiceExceptions themselves
        pass

    return Fault(code, message)

#: Set by the server: called with (rule, target, event) for each Lambda target a rule matches.
lambda_target_sink: Optional[Callable[[Any, dict, dict], None]] = None
#: Set by the server: returns None or raises the throttling error for a SubmitJob call
#: (:class:`spotkit.emulator.throttle.SubmitJobThrottle`).
submit_job_gate: Optional[Callable[[], None]] = None

RESERVED_ENV_PREFIX = "AWS_BATCH"


def _ms(dt: Optional[datetime]) -> Optional[int]:
    if dt is None or dt.year <= 1970:
        return None
    return int(dt.timestamp() * 1000)


def job_extras(job) -> dict:
    """The emulator's per-job state (created on first use)."""
    sk = job.__dict__.get("_sk")
    if sk is None:
        sk = job.__dict__.setdefault("_sk", {
            "retryStrategy": copy.deepcopy(job.job_definition.retry_strategy) or None,
            "propagateTags": bool(getattr(job.job_definition, "propagate_tags", False)),
            "shareIdentifier": None,
            "schedulingPriority": None,
            "containerInstanceArn": None,
            "taskArn": None,
            "exitCode": None,
            "reason": None,
            "logStreamName": None,
        })
    return sk


def container_property(job, name: str, default: Any = None) -> Any:
    """The effective container property: submission override, else job definition."""
    props = job.job_definition.container_properties or {}
    return job.container_overrides.get(name, props.get(name, default))


def job_resources(job) -> tuple:
    """``(vcpus, memory_mib)`` the job asks for (resourceRequirements, then legacy fields)."""
    vcpus = memory = None
    for source in (job.container_overrides, job.job_definition.container_properties or {}):
        for req in source.get("resourceRequirements") or []:
            if req.get("type") == "VCPU" and vcpus is None:
                vcpus = float(req["value"])
            if req.get("type") == "MEMORY" and memory is None:
                memory = int(req["value"])
        if vcpus is None and source.get("vcpus") is not None:
            vcpus = float(source["vcpus"])
        if memory is None and source.get("memory") is not None:
            memory = int(source["memory"])
    return (vcpus or 1.0), (memory or 512)


def job_environment(job) -> list:
    """Job definition environment merged with the override (override wins), no AWS_BATCH_*."""
    merged = {}
    for source in ((job.job_definition.container_properties or {}).get("environment") or [],
                   job.container_overrides.get("environment") or []):
        for item in source:
            merged[item["name"]] = item.get("value", "")
    return [{"name": k, "value": v} for k, v in merged.items() if not k.startswith(RESERVED_ENV_PREFIX)]


def resource_requirements(job) -> list:
    """The container's ``resourceRequirements`` as AWS reports them: the job definition's list with
    the submission's entries replacing those of the same ``type`` (legacy ``vcpus``/``memory`` are
    not folded in; :func:`describe_job` reports them under their own keys, as AWS does -- see the
    captured JobDetail tests/fidelity/aws/, ``"vcpus": 2, "memory": 20000, "resourceRequirements": []``)."""
    merged: dict = {}
    for source in ((job.job_definition.container_properties or {}).get("resourceRequirements") or [],
                   job.container_overrides.get("resourceRequirements") or []):
        for req in source:
            merged[req.get("type")] = {"value": str(req.get("value")), "type": req.get("type")}
    return list(merged.values())


#: Container keys AWS reports only when the job definition (or the submission) sets them.
_OPTIONAL_CONTAINER_KEYS = ("vcpus", "memory", "jobRoleArn", "executionRoleArn", "privileged",
                            "readonlyRootFilesystem", "logConfiguration", "user", "linuxParameters",
                            "instanceType", "fargatePlatformConfiguration", "ephemeralStorage",
                            "runtimePlatform")


def describe_job(job) -> dict:
    """A DescribeJobs JobDetail for ``job``, shaped like AWS's (AWS Batch API Reference, "JobDetail";
    compared key by key with the captured JobDetail in tests/fidelity/aws/): keys AWS omits when
    unset are omitted, ``tags`` are the job's tags, ``eksAttempts`` is ``[]`` for EC2 jobs."""
    sk = job_extras(job)
    jd = job.job_definition
    out: dict = {
        "jobArn": job.arn,
        "jobName": job.job_name,
        "jobId": job.job_id,
        "jobQueue": job.job_queue.arn,
        "status": job.status,
        "attempts": copy.deepcopy(job.attempts),
        "createdAt": _ms(job.job_created_at),
        "dependsOn": job.depends_on or [],
        "jobDefinition": jd.arn,
        "parameters": dict(job.parameters or {}),
        "tags": job.backend.list_tags_for_resource(job.arn),
        "propagateTags": sk["propagateTags"],
        "platformCapabilities": list(getattr(jd, "platform_capabilities", None) or []),
        "eksAttempts": [],
    }
    if job.job_stopped_reason:
        out["statusReason"] = job.job_stopped_reason
    if sk["retryStrategy"]:
        # AWS reports "evaluateOnExit": [] when none was given (tests/fidelity/aws/ captures)
        out["retryStrategy"] = {"evaluateOnExit": [], **copy.deepcopy(sk["retryStrategy"])}
    if _ms(job.job_started_at):
        out["startedAt"] = _ms(job.job_started_at)
    if job.job_stopped and _ms(job.job_stopped_at):
        out["stoppedAt"] = _ms(job.job_stopped_at)
    timeout = job.timeout or jd.timeout
    if timeout:
        out["timeout"] = copy.deepcopy(timeout)
    if sk["shareIdentifier"]:
        out["shareIdentifier"] = sk["shareIdentifier"]
    if sk["schedulingPriority"] is not None:
        out["schedulingPriority"] = sk["schedulingPriority"]
    if job._child_jobs:
        summary = {s: 0 for s in JOB_STATUSES}
        for child in job._child_jobs:
            summary[child.status] = summary.get(child.status, 0) + 1
        out["arrayProperties"] = {"statusSummary": summary, "size": len(job._child_jobs)}
    elif "index" in (job.array_properties or {}):
        # a child: {"index": n, "statusSummary": {}} (tests/fidelity/aws/public_array_child_succeeded.json)
        out["arrayProperties"] = {"index": job.array_properties["index"], "statusSummary": {}}
    if jd.container_properties is not None:
        container = {
            "image": container_property(job, "image"),
            "command": list(container_property(job, "command", []) or []),
            "volumes": container_property(job, "volumes", []) or [],
            "environment": job_environment(job),
            "mountPoints": container_property(job, "mountPoints", []) or [],
            "ulimits": container_property(job, "ulimits", []) or [],
            "networkInterfaces": [],
            "resourceRequirements": resource_requirements(job),
            "secrets": container_property(job, "secrets", []) or [],
        }
        for key in _OPTIONAL_CONTAINER_KEYS:
            value = container_property(job, key)
            if value is not None:
                container[key] = copy.deepcopy(value)
        for key in ("containerInstanceArn", "taskArn", "exitCode", "reason", "logStreamName"):
            if sk.get(key) is not None:
                container[key] = sk[key]
        out["container"] = container
    return out


def event_detail(job) -> dict:
    """The ``detail`` of the job's "Batch Job State Change" event: the JobDetail with ``tags``
    replaced by ``{"resourceArn": <ARN>}`` (never the job's tags) and without ``timeout``. The ARN is
    the job's own, or for an array child its parent's (``…/job/<parent id>``, not ``…:<index>``).

    Sources: the FAILED event captured from AWS (us-west-2, 2025-04-23) and the SUCCEEDED array
    child event (us-east-1, 2022) in tests/fidelity/aws/; the
    AWS Batch User Guide, "Job state change events" (batch_job_events.html), says only that the
    detail "resembles" the JobDetail. Whether AWS puts ``timeout`` in the event of a job that has
    one is assumed, not verified (the capture's job had none): the emulator leaves it out, so a
    consumer that needs it must call DescribeJobs, which is right on AWS either way.
    """
    detail = describe_job(job)
    arn = job.arn
    if "index" in (job.array_properties or {}) and arn.endswith(f":{job.array_properties['index']}"):
        arn = arn.rsplit(":", 1)[0]
    detail["tags"] = {"resourceArn": arn}
    detail.pop("timeout", None)
    return detail


# ------------------------------------------------------------------------ request validation
#: AWS Batch API Reference, "SubmitJob" → jobName: "It can be up to 128 characters long. The first
#: character must be alphanumeric, can contain uppercase and lowercase letters, numbers, hyphens (-),
#: and underscores (_)." (moto's own pattern wants at least 2 characters.)
JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
MAX_TAGS = 50  # SubmitJob → tags: "Map Entries: Maximum number of 50 items."
MAX_TAG_KEY, MAX_TAG_VALUE = 128, 256  # SubmitJob → tags: key length 1-128, value length 0-256
MIN_ARRAY_SIZE, MAX_ARRAY_SIZE = 2, 10_000  # API_ArrayProperties: size "between 2 and 10,000"
MAX_DEPENDS_ON = 20  # SubmitJob → dependsOn: "A job can depend upon a maximum of 20 jobs."
MIN_ATTEMPT_SECONDS = 60  # API_JobTimeout / job_timeouts.html: "The minimum value for the timeout is 60 seconds."
MAX_DESCRIBE_JOBS = 100  # DescribeJobs → jobs: "A list of up to 100 job IDs."


def validate_timeout(timeout: Optional[dict]) -> None:
    """``timeout.attemptDurationSeconds`` of SubmitJob / RegisterJobDefinition: at least 60 seconds.

    Source: AWS Batch API Reference, "JobTimeout" (API_JobTimeout.html) and AWS Batch User Guide,
    "Job timeouts" (job_timeouts.html). Raises ``ClientException`` (HTTP 400); message assumed.
    """
    if not timeout or timeout.get("attemptDurationSeconds") is None:
        return
    seconds = timeout["attemptDurationSeconds"]
    if not isinstance(seconds, int) or seconds < MIN_ATTEMPT_SECONDS:
        raise ClientException(f"timeout.attemptDurationSeconds must be at least {MIN_ATTEMPT_SECONDS} "
                              f"seconds, got {seconds}")


def validate_tags(tags: Optional[dict]) -> None:
    """SubmitJob (and RegisterJobDefinition) tags: at most 50; key 1-128 characters, value 0-256;
    no key starting with ``aws:`` (reserved for AWS). Sources: AWS Batch API Reference, "SubmitJob"
    → tags; AWS Batch User Guide, "Tag your AWS Batch resources" → tag restrictions
    (using-tags.html). Raises ``ClientException``; messages assumed."""
    if not tags:
        return
    if len(tags) > MAX_TAGS:
        raise ClientException(f"tags: at most {MAX_TAGS} tags are allowed, got {len(tags)}")
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise ClientException(f"tags: key length must be between 1 and {MAX_TAG_KEY}: {key[:40]!r}")
        if len(value or "") > MAX_TAG_VALUE:
            raise ClientException(f"tags: value of {key!r} is longer than {MAX_TAG_VALUE} characters")
        if key.lower().startswith("aws:"):
            raise ClientException(f"tags: keys starting with 'aws:' are reserved for AWS use: {key!r}")


def resolve_job_definition(backend, identifier: str):
    """The job definition revision SubmitJob uses: ``name:revision`` or an ARN names one revision, a
    bare name the latest ACTIVE revision ("If the revision is not specified, then the latest active
    revision is used", AWS Batch API Reference, "SubmitJob" → jobDefinition). An INACTIVE
    (deregistered) revision is refused, as AWS refuses it.

    Raises:
        ClientException: no such definition, or not ACTIVE (AWS's text for a name, captured in
            public issue threads: ``JobDefinition name <name> does not exist or is not in ACTIVE status``;
            the text for an ARN is assumed to be the same).
    """
    identifier = identifier or ""
    if identifier.startswith("arn:") or ":" in identifier:
        jd = backend.get_job_definition(identifier)
    else:
        revisions = [d for d in backend._job_definitions.values() if d.name == identifier and d.status == "ACTIVE"]
        jd = max(revisions, key=lambda d: d.revision) if revisions else None
    if jd is None or jd.status != "ACTIVE":
        kind = "name" if not identifier.startswith("arn:") else "arn"
        raise ClientException(f"JobDefinition {kind} {identifier} does not exist or is not in ACTIVE status")
    return jd


def validate_submit_job(backend, param: Callable[[str], Any]):
    """SubmitJob's documented request limits (AWS Batch API Reference, "SubmitJob"); returns the
    job definition revision to use (:func:`resolve_job_definition`).

    ``param(name)`` reads a request parameter. Checks, in this order (AWS's order is assumed): job
    name (1-128 characters, first alphanumeric, then letters, digits, ``-``, ``_``); job definition
    ACTIVE; tags (:func:`validate_tags`); ``arrayProperties.size`` 2-10,000 (API_ArrayProperties);
    ``dependsOn`` at most 20 entries; ``shareIdentifier`` only, and then always, when the job queue has
    a scheduling policy ("Don't specify this parameter if the job queue doesn't have a scheduling
    policy. If the job queue has a fair-share scheduling policy, then this parameter must be
    specified."); ``timeout`` (:func:`validate_timeout`).

    Raises:
        ClientException: HTTP 400, the first rule broken (messages other than the job definition's are
            assumed, not verified).
    """
    name = param("jobName") or ""
    if not JOB_NAME.match(name):
        raise ClientException("jobName must be 1-128 characters, start with a letter or digit and contain only "
                              f"letters, digits, hyphens and underscores: {name[:140]!r}")
    jd = resolve_job_definition(backend, param("jobDefinition"))
    validate_tags(param("tags"))
    array = param("arrayProperties") or {}
    if array and "size" in array:
        size = array["size"]
        if not isinstance(size, int) or not MIN_ARRAY_SIZE <= size <= MAX_ARRAY_SIZE:
            raise ClientException(f"arrayProperties.size must be between {MIN_ARRAY_SIZE} and {MAX_ARRAY_SIZE}, "
                                  f"got {size}")
    depends_on = param("dependsOn") or []
    if len(depends_on) > MAX_DEPENDS_ON:
        raise ClientException(f"dependsOn: a job can depend on at most {MAX_DEPENDS_ON} jobs, got {len(depends_on)}")
    queue = backend.get_job_queue(param("jobQueue") or "")
    if queue is not None:
        policy = getattr(queue, "schedule_policy", None)
        share = param("shareIdentifier")
        if share is not None and not policy:
            raise ClientException("shareIdentifier is not allowed: job queue "
                                  f"{queue.name} has no scheduling policy")
        if share is None and policy:
            raise ClientException(f"shareIdentifier is required: job queue {queue.name} has a scheduling policy")
    validate_timeout(param("timeout"))
    return jd


#: JobStateTimeLimitAction, AWS Batch API Reference: action CANCEL (TERMINATE only for SageMaker
#: Training service environments, which the emulator has none of), state RUNNABLE, maxTimeSeconds
#: 600-86,400, reason required.
TIME_LIMIT_SECONDS = (600, 86400)


def validate_time_limit_actions(actions: Any) -> list:
    """Check CreateJobQueue/UpdateJobQueue ``jobStateTimeLimitActions``; return them as given.

    Shape: a list of ``{"reason": str, "state": "RUNNABLE", "maxTimeSeconds": int (600-86,400),
    "action": "CANCEL"}``. Source: AWS Batch API Reference, "JobStateTimeLimitAction".

    Raises:
        ClientException: (HTTP 400) a field is missing or out of range (messages assumed, not
            verified: no capture of AWS's text).
    """
    if actions is None:
        return []
    if not isinstance(actions, list):
        raise ClientException("jobStateTimeLimitActions must be a list")
    low, high = TIME_LIMIT_SECONDS
    for i, a in enumerate(actions):
        where = f"jobStateTimeLimitActions[{i}]"
        if not isinstance(a, dict):
            raise ClientException(f"{where} must be an object")
        missing = [k for k in ("reason", "state", "maxTimeSeconds", "action") if a.get(k) in (None, "")]
        if missing:
            raise ClientException(f"{where}: {', '.join(missing)} must be provided")
        if a["state"] != "RUNNABLE":
            raise ClientException(f"{where}.state {a['state']} must be RUNNABLE")
        if a["action"] != "CANCEL":
            raise ClientException(f"{where}.action {a['action']} must be CANCEL for an ECS job queue")
        if not isinstance(a["maxTimeSeconds"], int) or not low <= a["maxTimeSeconds"] <= high:
            raise ClientException(f"{where}.maxTimeSeconds must be between {low} and {high}")
    return copy.deepcopy(actions)


def _status_get(self):
    return self.__dict__.get("_status")


def _status_set(self, value):
    self.__dict__["_status"] = value


#: The event a rule's target receives, as EventBridge delivers it (moto's default template leaves out
#: ``account``; every capture in tests/fidelity/aws/ has it). Tests on moto in-process use it too.
EVENTBRIDGE_DELIVERED_TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
    '"detail": <detail>}')


def install() -> None:
    """Install every hook once (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True

    _install_fault_guard()
    _install_ecs_missing_instances()
    batch_models.Job.start = lambda self: None
    batch_models.Job.status = property(_status_get, _status_set)
    batch_models.Job.describe = describe_job

    original_submit = batch_responses.BatchResponse.submitjob

    batch_models.JOB_NAME_REGEX = JOB_NAME  # moto's pattern refuses 1-character names AWS accepts

    def submitjob(self) -> str:
        if submit_job_gate is not None:
            submit_job_gate()  # throttling comes first, as on AWS
        jd = validate_submit_job(self.batch_backend, self._get_param)
        read = self._get_param
        # moto resolves a bare name to the latest revision, ACTIVE or not: hand it the one AWS uses
        self._get_param = lambda name, *a, **kw: jd.arn if name == "jobDefinition" else read(name, *a, **kw)
        try:
            body = original_submit(self)
        finally:
            del self._get_param
        job = self.batch_backend.get_job_by_id(json.loads(body)["jobId"])
        extras = {}
        if self._get_param("retryStrategy") is not None:
            extras["retryStrategy"] = self._get_param("retryStrategy")
        if self._get_param("propagateTags") is not None:
            extras["propagateTags"] = bool(self._get_param("propagateTags"))
        if self._get_param("shareIdentifier") is not None:
            extras["shareIdentifier"] = self._get_param("shareIdentifier")
        if self._get_param("schedulingPriorityOverride") is not None:
            extras["schedulingPriority"] = self._get_param("schedulingPriorityOverride")
        for j in [job] + list(job._child_jobs or []):
            job_extras(j).update(copy.deepcopy(extras))
            j.__dict__["_sk_ready"] = True
        return body

    batch_responses.BatchResponse.submitjob = submitjob

    original_register = batch_responses.BatchResponse.registerjobdefinition

    def registerjobdefinition(self) -> str:
        validate_timeout(self._get_param("timeout"))
        validate_tags(self._get_param("tags"))
        return original_register(self)

    batch_responses.BatchResponse.registerjobdefinition = registerjobdefinition

    original_describe_jobs = batch_responses.BatchResponse.describejobs

    def describejobs(self) -> str:
        jobs = self._get_param("jobs") or []
        if len(jobs) > MAX_DESCRIBE_JOBS:
            # text as a public SDK log shows it (tests/fidelity/aws/submit_job_errors.json), double space included
            raise ClientException("Error executing request, Exception : Maximum number of jobs supported is  "
                                  f"{MAX_DESCRIBE_JOBS} ., RequestId: {uuid.uuid4()}")
        return original_describe_jobs(self)

    batch_responses.BatchResponse.describejobs = describejobs

    original_create_ce = batch_models.BatchBackend.create_compute_environment

    def create_compute_environment(self, compute_environment_name, _type, state, compute_resources,
                                   service_role, tags=None):
        # `state` is optional in CreateComputeEnvironment (API reference: Required: No); moto stores None
        state = state or "ENABLED"
        shadow = dict(compute_resources) if compute_resources else compute_resources
        if shadow and _type == "MANAGED":
            shadow["desiredvCpus"] = 0  # capacity follows demand: see spotkit.emulator.capacity
        ce = original_create_ce(self, compute_environment_name, _type, state, shadow, service_role, tags)
        ce.compute_resources = compute_resources
        return ce

    batch_models.BatchBackend.create_compute_environment = create_compute_environment

    original_create_queue = batch_models.BatchBackend.create_job_queue

    def create_job_queue(self, queue_name, priority, schedule_policy, state, compute_env_order, tags=None):
        # `state` is optional in CreateJobQueue (API reference: Required: No; the AWS CLI's --state is
        # optional); moto refuses a missing one with "state must be provided"
        return original_create_queue(self, queue_name, priority, schedule_policy, state or "ENABLED",
                                     compute_env_order, tags)

    batch_models.BatchBackend.create_job_queue = create_job_queue

    original_create_queue_response = batch_responses.BatchResponse.createjobqueue
    original_update_queue_response = batch_responses.BatchResponse.updatejobqueue
    original_queue_describe = batch_models.JobQueue.describe

    def createjobqueue(self) -> str:
        actions = validate_time_limit_actions(self._get_param("jobStateTimeLimitActions"))
        body = original_create_queue_response(self)
        queue = self.batch_backend.get_job_queue(json.loads(body)["jobQueueArn"])
        queue.__dict__["_sk_time_limit_actions"] = actions
        return body

    def updatejobqueue(self) -> str:
        given = self._get_param("jobStateTimeLimitActions")
        actions = validate_time_limit_actions(given)
        body = original_update_queue_response(self)
        if given is not None:
            queue = self.batch_backend.get_job_queue(json.loads(body)["jobQueueArn"])
            queue.__dict__["_sk_time_limit_actions"] = actions
        return body

    def queue_describe(self) -> dict:
        out = original_queue_describe(self)
        out["jobStateTimeLimitActions"] = copy.deepcopy(self.__dict__.get("_sk_time_limit_actions", []))
        return out

    batch_responses.BatchResponse.createjobqueue = createjobqueue
    batch_responses.BatchResponse.updatejobqueue = updatejobqueue
    batch_models.JobQueue.describe = queue_describe

    original_update_ce = batch_models.BatchBackend.update_compute_environment

    def update_compute_environment(self, compute_environment_name, state, compute_resources, service_role):
        name, arn = original_update_ce(self, compute_environment_name, state, compute_resources, service_role)
        ce = self.get_compute_environment(arn)
        if ce is not None and compute_resources:
            merged = dict(ce.compute_resources or {})
            merged.update({k: v for k, v in compute_resources.items() if v is not None})
            ce.compute_resources = merged
        return name, arn

    batch_models.BatchBackend.update_compute_environment = update_compute_environment

    def terminate_fleet_instances(self) -> None:
        """Terminate instances until fulfilled capacity is at or below target capacity."""
        live = [r for r in self.spot_requests if r.instance.state in ("pending", "running")]
        weights = {s.instance_type: s.weighted_capacity for s in self.launch_specs}
        fulfilled = sum(weights.get(r.instance.instance_type, 1) for r in live)
        doomed = []
        # newest first, as a stand-in for the fleet's choice
        for req in reversed(live):
            if fulfilled <= self.target_capacity:
                break
            fulfilled -= weights.get(req.instance.instance_type, 1)
            doomed.append(req.instance.id)
        self.spot_requests = [r for r in self.spot_requests if r.instance.id not in doomed]
        self.fulfilled_capacity = float(fulfilled)
        if doomed:
            self.ec2_backend.terminate_instances(doomed)

    spot_requests.SpotFleetRequest.terminate_instances = terminate_fleet_instances

    original_config = spot_requests.SpotFleetRequest.spot_fleet_request_config

    def spot_fleet_request_config(self) -> dict:
        config = original_config.fget(self)
        config["Type"] = self.__dict__.get("fleet_type", "maintain")  # AWS's default request type
        return config

    spot_requests.SpotFleetRequest.spot_fleet_request_config = property(spot_fleet_request_config)

    original_send = events_models.Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input: bool = True) -> None:
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return
        if not self.event_pattern.matches_event(original_event):
            return
        lambda_targets = [t for t in self.targets if ":lambda:" in t["Arn"]]
        others = [t for t in self.targets if ":lambda:" not in t["Arn"]]
        if others:
            shadow = copy.copy(self)
            shadow.targets = others
            original_send(shadow, copy.deepcopy(original_event), transform_input)
        for target in lambda_targets:
            if lambda_target_sink is not None:
                lambda_target_sink(self, target, copy.deepcopy(original_event))

    events_models.Rule.send_to_targets = send_to_targets

    original_fn_init = lambda_models.LambdaFunction.__init__

    def fn_init(self, account_id, spec, *args, **kwargs):
        original_fn_init(self, account_id, spec, *args, **kwargs)
        self.__dict__["_sk_dead_letter_config"] = spec.get("DeadLetterConfig")

    lambda_models.LambdaFunction.__init__ = fn_init

    original_get_configuration = lambda_models.LambdaFunction.get_configuration

    def get_configuration(self, *args, **kwargs):
        config = original_get_configuration(self, *args, **kwargs)
        dlc = self.__dict__.get("_sk_dead_letter_config")
        if dlc and dlc.get("TargetArn"):
            config["DeadLetterConfig"] = dlc
        return config

    lambda_models.LambdaFunction.get_configuration = get_configuration

    original_update_configuration = lambda_models.LambdaFunction.update_configuration

    def update_configuration(self, config_updates):
        result = original_update_configuration(self, config_updates)
        if "DeadLetterConfig" in config_updates:
            self.__dict__["_sk_dead_letter_config"] = config_updates["DeadLetterConfig"]
        return result

    lambda_models.LambdaFunction.update_configuration = update_configuration

    original_create_esm = lambda_models.LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self, spec):
        esm = original_create_esm(self, spec)
        if esm.max_batch_window is None and ":sqs:" in (esm.event_source_arn or ""):
            # "Default (Kinesis, DynamoDB, Amazon SQS event sources): 0" (Lambda API reference,
            # CreateEventSourceMapping); moto keeps None, so the mapping reads back without the field
            # (hashicorp/aws 5.x does not send a 0 it was given)
            esm.max_batch_window = 0
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[self.account_id][self.region_name].queues.values():
            if queue.queue_arn == esm.event_source_arn:
                queue.lambda_event_source_mappings.pop(esm.function_arn, None)
        return esm

    lambda_models.LambdaBackend.create_event_source_mapping = create_event_source_mapping

    def list_event_source_mappings(self, event_source_arn, function_name):
        # AWS matches FunctionName given as a name, an ARN or a partial ARN against the function
        # (API reference, ListEventSourceMappings); moto compares it with the string the mapping was
        # created with, so a mapping made with the ARN (hashicorp/aws 5.x passes what the
        # configuration gives) is not found by name.
        esms = list(self._event_source_mappings.values())
        if event_source_arn:
            esms = [m for m in esms if m.event_source_arn == event_source_arn]
        if function_name:
            given = function_name
            if re.match(r"^\d{12}:function:", given):  # a partial ARN, which moto cannot resolve
                given = f"arn:aws:lambda:{self.region_name}:{given}"
            try:
                wanted = self.get_function(given).function_arn
            except lambda_exceptions.UnknownFunctionException:  # nothing matches but the exact string
                wanted = function_name
            esms = [m for m in esms if wanted in (m.function_arn, m.function_name)]
        return esms

    lambda_models.LambdaBackend.list_event_source_mappings = list_event_source_mappings

    # SQS: one clock read per scan (moto reads it once per message) -------------------------
    def queue_messages(self):
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def queue_delayed(self):
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def queue_not_visible(self):
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    sqs_models.Queue.messages = property(queue_messages)
    sqs_models.Queue.approximate_number_of_messages_delayed = property(queue_delayed)
    sqs_models.Queue.approximate_number_of_messages_not_visible = property(queue_not_visible)

    def is_message_valid_based_on_retention_period(self, queue_name: str, message) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    sqs_models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

    # SQS: deletes and receives atomic with sends (the queue's own lock) --------------------
    original_delete_message = sqs_models.Queue.delete_message

    def queue_delete_message(self, receipt_handle: str) -> None:
        with self._messages_lock:
            original_delete_message(self, receipt_handle)

    sqs_models.Queue.delete_message = queue_delete_message

    original_receive_message = sqs_models.SQSBackend.receive_message

    def receive_message(self, queue_name: str, *args, **kwargs):
        with self.get_queue(queue_name)._messages_lock:  # a Condition over an RLock: waits release it
            return original_receive_message(self, queue_name, *args, **kwargs)

    sqs_models.SQSBackend.receive_message = receive_message

    # EventBridge targets: the delivered event has "account" -----------------------------------
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = EVENTBRIDGE_DELIVERED_TEMPLATE

    # EventBridge targets: parse each JSONPath expression once ------------------------------
    import functools

    import jsonpath_ng.ext

    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)

    # SQS: RedrivePolicy as compact JSON, as SQS returns it ------------------------------------
    original_attributes = sqs_models.Queue.attributes.fget

    def queue_attributes(self):
        result = original_attributes(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    sqs_models.Queue.attributes = property(queue_attributes)

    # CloudFormation updates of an event source mapping reset what the template no longer sets --
    esm_defaults = {"BatchSize": None, "Enabled": True, "MaximumBatchingWindowInSeconds": None,
                    "FunctionResponseTypes": None, "ScalingConfig": None, "FilterCriteria": None}
    original_esm_update = lambda_models.EventSourceMapping.update_from_cloudformation_json.__func__

    def esm_update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
        template = {**cloudformation_json,
                    "Properties": {**esm_defaults, **cloudformation_json.get("Properties", {})}}
        return original_esm_update(cls, original_resource, new_resource_name, template, account_id, region_name)

    lambda_models.EventSourceMapping.update_from_cloudformation_json = classmethod(esm_update_from_cloudformation_json)


def _install_fault_guard() -> None:
    """Wrap moto's ``BaseResponse.call_action``: for the services in :data:`FAULT_ERRORS`, an exception
    that escapes the handler (moto would answer HTTP 500) is logged with its traceback as the
    emulator's fault and answered with the service's client error, HTTP 400."""
    from moto.core import responses as core_responses
    from moto.core.exceptions import ServiceException
    from werkzeug.exceptions import HTTPException

    original = core_responses.BaseResponse.call_action

    def call_action(self):
        service = getattr(self, "service_name", None)
        if service not in FAULT_ERRORS:
            return original(self)
        try:
            return original(self)
        except Exception as exc:  # noqa: BLE001 - the point: nothing escapes as an HTTP 500
            try:
                action = self._get_action()
            except Exception:  # noqa: BLE001
                action = "?"
            code, status = FAULT_ERRORS[service]
            log.error("unhandled %s in the emulator serving %s %s: the emulator's fault, not the request's; "
                      "answered %s HTTP %s", type(exc).__name__, service, action, code, status, exc_info=True)
            err = _fault_error(service, fault_message(service, action, exc))
            headers = self.response_headers
            if isinstance(err, ServiceException):
                status_code, headers, body = self.serialized(core_responses.ActionResult(err))
                headers["status"] = status
                status_code = status
            elif isinstance(err, HTTPException):
                status_code, headers, body = self._transform_response(
                    headers, (err.description, {**dict(err.get_headers() or []), "status": err.code}))
            headers, body = self._enrich_response(headers, body)
            return status_code, headers, body

    core_responses.BaseResponse.call_action = call_action


def _install_ecs_missing_instances() -> None:
    """ECS: an unknown container instance is a ``MISSING`` failure, also in a cluster that never had one."""
    from moto.ecs import models as ecs_models

    backend = ecs_models.EC2ContainerServiceBackend
    for name in ("describe_container_instances", "update_container_instances_state"):
        original = getattr(backend, name)

        def wrapped(self, cluster_str, *args, _original=original, **kwargs):
            cluster = self._get_cluster(cluster_str)  # ClusterNotFoundException as before
            self.container_instances.setdefault(cluster.name, {})  # what register would have made
            return _original(self, cluster_str, *args, **kwargs)

        wrapped.__name__ = name
        setattr(backend, name, wrapped)
