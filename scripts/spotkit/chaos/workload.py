"""The chaos experiment's probe workload, and which running jobs sit on which EC2 instance.

* :func:`submit_probe_workload` submits the probe jobs (plain jobs and/or one array job) that the
  experiment interrupts: each sleeps, carries a user tag and a timeout (AWS's FAILED event carries
  neither, so finding both on a resubmitted job proves they were read from the job), and, unless the
  job definition's native retry is being proven, ``retryStrategy {"attempts": 1}`` so that only the
  resubmission Lambda can bring it back.
* :func:`running_jobs_by_instance` maps EC2 instance ids to the RUNNING jobs on them (array children
  individually): the experiment picks instances to interrupt from it and hands it to
  :class:`spotkit.chaos.verify.RecoveryTracker`.

AWS APIs and limits relied on:

* SubmitJob (https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html): jobName
  1-128 letters, digits, ``-``, ``_``; ``arrayProperties.size`` 2..10,000
  (https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html); ``timeout`` at least 60 s;
* ListJobs (https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html): by ``jobQueue``
  and ``jobStatus``, or by ``arrayJobId`` for an array job's children; eventually consistent;
* DescribeJobs: at most 100 job ids per call (:func:`spotkit.core.lookup.describe_jobs`);
  ``container.containerInstanceArn`` of the current attempt;
* Batch DescribeComputeEnvironments -> ``ecsClusterArn``; ECS DescribeContainerInstances
  (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeContainerInstances.html):
  at most 100 container instances per call -> ``ec2InstanceId``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from spotkit.chaos.fleet import container_instance_arn, ecs_cluster_arns
from spotkit.core.indexmap import MAX_ARRAY_SIZE, MIN_ARRAY_SIZE
from spotkit.core.lookup import describe_jobs
from spotkit.core.submit import JOB_NAME_PATTERN

TAG_CHAOS_RUN = "spotkit:chaos-run"
TAG_CHAOS_OWNER = "spotkit:chaos-owner"
CHAOS_OWNER = "spotkit"
PROBE_NAME_PREFIX = "spotkit-chaos-probe-"
ARRAY_NAME_PREFIX = "spotkit-chaos-array-"
#: The probe's attempt timeout is at least this long (seconds), and at least 4 x its sleep.
MIN_PROBE_TIMEOUT_SECONDS = 3600
#: ECS DescribeContainerInstances takes at most 100 container instances per call.
DESCRIBE_CONTAINER_INSTANCES_MAX = 100


class WorkloadError(ValueError):
    """The probe workload's arguments break a SubmitJob limit or make no sense (nothing submitted)."""


class WorkloadSubmitError(RuntimeError):
    """A SubmitJob of the workload failed after others succeeded; ``workload`` holds the jobs that
    were submitted (terminate them), ``__cause__`` the AWS error."""

    def __init__(self, message: str, workload: ProbeWorkload):
        super().__init__(message)
        self.workload = workload


@dataclass
class ProbeWorkload:
    """The probe jobs of one run.

    Attributes:
        job_ids: the plain probe jobs, in submission order.
        array_parent_ids: the array probe jobs (parents; their children are ``<parent>:<index>``).
        run_id: the run they belong to (tag ``spotkit:chaos-run``).
        job_names: ``{job id: job name}`` of every job above.
    """

    job_ids: list[str] = field(default_factory=list)
    array_parent_ids: list[str] = field(default_factory=list)
    run_id: str = ""
    job_names: dict[str, str] = field(default_factory=dict)

    def all_ids(self) -> list[str]:
        """Every submitted job id, for cleanup (TerminateJob on a parent terminates its children)."""
        return list(dict.fromkeys([*self.job_ids, *self.array_parent_ids]))


def probe_command(probe_seconds: int) -> list[str]:
    """The probe job's container command: ``sh -c "echo spotkit chaos probe; sleep <probe_seconds>"``."""
    return ["sh", "-c", f"echo spotkit chaos probe; sleep {int(probe_seconds)}"]


def probe_tags(run_id: str) -> dict[str, str]:
    """The probe jobs' tags: ``{"spotkit:chaos-run": run_id, "spotkit:chaos-owner": "spotkit"}``."""
    return {TAG_CHAOS_RUN: run_id, TAG_CHAOS_OWNER: CHAOS_OWNER}


def probe_timeout_seconds(probe_seconds: int) -> int:
    """``attemptDurationSeconds`` of a probe: ``max(3600, 4 * probe_seconds)`` seconds."""
    return max(MIN_PROBE_TIMEOUT_SECONDS, 4 * int(probe_seconds))


def probe_request(*, run_id: str, job_name: str, job_queue: str, job_definition: str, probe_seconds: int,
                  native_retry: bool, vcpus: int | None = None, array_size: int = 0) -> dict[str, Any]:
    """SubmitJob keyword arguments of one probe job (an array job when ``array_size`` >= 2)."""
    overrides: dict[str, Any] = {"command": probe_command(probe_seconds)}
    if vcpus is not None:
        overrides["resourceRequirements"] = [{"type": "VCPU", "value": str(vcpus)}]
    request: dict[str, Any] = {
        "jobName": job_name,
        "jobQueue": job_queue,
        "jobDefinition": job_definition,
        "containerOverrides": overrides,
        "tags": probe_tags(run_id),
        "timeout": {"attemptDurationSeconds": probe_timeout_seconds(probe_seconds)},
    }
    if not native_retry:
        # One attempt only: the resubmission Lambda, not the job definition, must bring it back.
        request["retryStrategy"] = {"attempts": 1}
    if array_size:
        request["arrayProperties"] = {"size": int(array_size)}
    return request


def probe_job_names(run_id: str, jobs: int, array_size: int) -> tuple[list[str], str | None]:
    """``(plain job names, array job name or None)``: ``spotkit-chaos-probe-<run_id>`` for one plain
    job, ``spotkit-chaos-probe-<run_id>-<n>`` (n = 1..jobs) for several; ``spotkit-chaos-array-<run_id>``."""
    if jobs == 1:
        names = [f"{PROBE_NAME_PREFIX}{run_id}"]
    else:
        names = [f"{PROBE_NAME_PREFIX}{run_id}-{n}" for n in range(1, jobs + 1)]
    return names, (f"{ARRAY_NAME_PREFIX}{run_id}" if array_size else None)


def _validate(run_id: str, jobs: int, array_size: int, probe_seconds: int, vcpus: int | None) -> None:
    problems = []
    if jobs < 0:
        problems.append(f"jobs must be >= 0, got {jobs}")
    if array_size and not MIN_ARRAY_SIZE <= array_size <= MAX_ARRAY_SIZE:
        problems.append(f"array_size must be 0 (no array job) or {MIN_ARRAY_SIZE}..{MAX_ARRAY_SIZE} "
                        f"(SubmitJob arrayProperties.size), got {array_size}")
    if jobs <= 0 and not array_size:
        problems.append("nothing to submit: jobs is 0 and array_size is 0")
    if probe_seconds <= 0:
        problems.append(f"probe_seconds must be positive, got {probe_seconds}")
    if vcpus is not None and vcpus <= 0:
        problems.append(f"vcpus must be positive, got {vcpus}")
    names, array_name = probe_job_names(run_id, max(jobs, 0), array_size)
    for name in names[-1:] + ([array_name] if array_name else []):
        if not JOB_NAME_PATTERN.fullmatch(name):
            problems.append(f"job name {name!r} is not 1-128 letters, digits, '-' or '_' (check run_id)")
    if problems:
        raise WorkloadError("; ".join(problems))


def submit_probe_workload(batch: Any, *, run_id: str, job_queue: str, job_definition: str, jobs: int = 1,
                          array_size: int = 0, probe_seconds: int = 900, native_retry: bool = False,
                          vcpus: int | None = None) -> ProbeWorkload:
    """Submit the probe jobs of run ``run_id``: ``jobs`` plain jobs and, when ``array_size`` >= 2, one
    array job of ``array_size`` children.

    Every probe runs ``sh -c "echo spotkit chaos probe; sleep <probe_seconds>"`` (seconds), is tagged
    ``{"spotkit:chaos-run": run_id, "spotkit:chaos-owner": "spotkit"}``, has
    ``timeout.attemptDurationSeconds = max(3600, 4 * probe_seconds)`` and, unless ``native_retry``,
    ``retryStrategy {"attempts": 1}`` (so the Lambda, not the job definition, must bring it back).
    ``vcpus`` (vCPUs per job) overrides the job definition's VCPU requirement (e.g. one probe per
    instance). Names: ``spotkit-chaos-probe-<run_id>`` (``-<n>`` when several) and
    ``spotkit-chaos-array-<run_id>``.

    Raises:
        WorkloadError: bad arguments (``array_size`` not 0 or 2..10,000, nothing to submit,
            non-positive ``probe_seconds``/``vcpus``, a run id that makes an invalid job name);
            nothing was submitted.
        WorkloadSubmitError: a SubmitJob failed after earlier ones succeeded (``.workload`` holds them).
        botocore.exceptions.ClientError / BotoCoreError: the first SubmitJob failed (nothing submitted).
    """
    _validate(run_id, jobs, array_size, probe_seconds, vcpus)
    names, array_name = probe_job_names(run_id, jobs, array_size)
    common = dict(run_id=run_id, job_queue=job_queue, job_definition=job_definition,
                  probe_seconds=probe_seconds, native_retry=native_retry, vcpus=vcpus)
    requests = [(False, probe_request(job_name=n, **common)) for n in names[:max(jobs, 0)]]
    if array_name:
        requests.append((True, probe_request(job_name=array_name, array_size=array_size, **common)))
    workload = ProbeWorkload(run_id=run_id)
    for is_array, request in requests:
        try:
            job_id = batch.submit_job(**request)["jobId"]
        except Exception as exc:
            if not workload.all_ids():
                raise
            raise WorkloadSubmitError(f"submitting {request['jobName']} failed after {len(workload.all_ids())} "
                                      f"probe job(s) were submitted: {exc}", workload) from exc
        (workload.array_parent_ids if is_array else workload.job_ids).append(job_id)
        workload.job_names[job_id] = request["jobName"]
    return workload


# ----------------------------------------------------------------------------- where jobs run
def _is_array_parent(summary: dict) -> bool:
    props = summary.get("arrayProperties") or {}
    return props.get("size") is not None and props.get("index") is None and ":" not in summary.get("jobId", "")


def _list(batch: Any, **kwargs: Any) -> list[dict]:
    out: list[dict] = []
    for page in batch.get_paginator("list_jobs").paginate(**kwargs):
        out += page.get("jobSummaryList") or []
    return out


def _running_children(batch: Any, parent_id: str) -> list[str]:
    return [s["jobId"] for s in _list(batch, arrayJobId=parent_id, jobStatus="RUNNING")]


def _candidate_ids(batch: Any, job_queues: list[str], job_ids: list[str] | None) -> list[str]:
    ids: list[str] = []
    if job_ids is not None:
        for jid, detail in describe_jobs(batch, job_ids).items():
            if _is_array_parent(detail):
                ids += _running_children(batch, jid)
            else:
                ids.append(jid)
        return list(dict.fromkeys(ids))
    for queue in dict.fromkeys(job_queues):
        # An array parent is not RUNNING itself while its children are (PENDING in the emulator, and
        # whatever AWS shows): list the parents of every active status and their RUNNING children.
        for status in ("PENDING", "RUNNABLE", "STARTING", "RUNNING"):
            for summary in _list(batch, jobQueue=queue, jobStatus=status):
                if _is_array_parent(summary):
                    ids += _running_children(batch, summary["jobId"])
                elif status == "RUNNING":
                    ids.append(summary["jobId"])
    return list(dict.fromkeys(ids))


def _instances_of(batch: Any, ecs: Any, ci_arns: Iterable[str], compute_environments: list[str]) -> dict[str, str]:
    """``{container instance ARN: EC2 instance id}`` for the ARNs the CEs' ECS clusters know (matched on
    the full ARN, or on its last segment, the container instance id, whatever the ARN format)."""
    wanted = list(dict.fromkeys(ci_arns))
    by_tail = {a.rsplit("/", 1)[-1]: a for a in wanted}
    found: dict[str, str] = {}
    for cluster in ecs_cluster_arns(batch, compute_environments):
        missing = [a for a in wanted if a not in found]
        if not missing:
            break
        for i in range(0, len(missing), DESCRIBE_CONTAINER_INSTANCES_MAX):
            try:
                resp = ecs.describe_container_instances(
                    cluster=cluster, containerInstances=missing[i:i + DESCRIBE_CONTAINER_INSTANCES_MAX])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("ClusterNotFoundException", "ClientException"):
                    break
                raise
            for ci in resp.get("containerInstances") or []:
                arn = ci.get("containerInstanceArn") or ""
                key = arn if arn in wanted else by_tail.get(arn.rsplit("/", 1)[-1])
                if key and ci.get("ec2InstanceId"):
                    found[key] = ci["ec2InstanceId"]
    return found


def running_jobs_by_instance(batch: Any, ecs: Any, *, job_queues: list[str], compute_environments: list[str],
                             job_ids: list[str] | None = None) -> dict[str, list[dict]]:
    """``{EC2 instance id: [DescribeJobs JobDetail, ...]}`` of the RUNNING jobs on each instance.

    Array children appear individually (``jobId`` ``<parent>:<index>``), never their parents.

    Args:
        job_queues: queues (names or ARNs) to list when ``job_ids`` is None: every RUNNING job of
            them (ListJobs ``jobStatus=RUNNING``), and the RUNNING children of their active array
            jobs (ListJobs ``arrayJobId``).
        compute_environments: the compute environments (names or ARNs) whose ECS clusters may hold
            the jobs' container instances.
        job_ids: only these jobs (an array parent stands for its RUNNING children); jobs that are
            not RUNNING are left out.

    Jobs whose container instance none of the clusters knows (not placed yet, Fargate, another
    compute environment) are left out. Lists within an instance keep ListJobs/``job_ids`` order.
    ListJobs is eventually consistent: a job that just started may be missing; call again.

    Raises:
        botocore.exceptions.ClientError / BotoCoreError: a ListJobs, DescribeJobs,
            DescribeComputeEnvironments or DescribeContainerInstances call failed.
    """
    ids = _candidate_ids(batch, list(job_queues), job_ids)
    details = describe_jobs(batch, ids)
    running = [details[i] for i in ids if i in details and details[i].get("status") == "RUNNING"
               and not _is_array_parent(details[i])]
    arns = {d["jobId"]: container_instance_arn(d) for d in running}
    instances = _instances_of(batch, ecs, [a for a in arns.values() if a], list(compute_environments))
    out: dict[str, list[dict]] = {}
    for detail in running:
        instance = instances.get(arns.get(detail["jobId"]) or "")
        if instance:
            out.setdefault(instance, []).append(detail)
    return out
