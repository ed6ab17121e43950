"""``--job-id``: follow a job, whoever submitted it, to the capacity it runs on -- or refuse, in one line.

A job spotkit did not submit may run in a job queue and compute environment (CE) that spotkit's
Terraform did not create. Nothing about it is taken from the environment's outputs or derived from a
name; everything is read from AWS, read-only:

1. Batch DescribeJobs (:func:`spotkit.core.lookup.describe_jobs`) -> ``status``, ``jobQueue``,
   ``jobDefinition``, ``platformCapabilities``, ``dependsOn``, ``retryStrategy``, ``attempts`` and the
   current attempt's ``container.containerInstanceArn``
   (https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobs.html);
2. Batch DescribeJobQueues -> ``computeEnvironmentOrder``
   (https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobQueues.html);
3. Batch DescribeComputeEnvironments of each (:func:`spotkit.chaos.probes.describe_compute_environment`)
   -> type, allocation strategy, ``ecsClusterArn``, tags;
4. ECS DescribeContainerInstances in each CE's cluster (:func:`spotkit.chaos.probes.instance_of_job`)
   -> ``ec2InstanceId``: the CE whose cluster holds the job's container instance is the job's CE
   (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeContainerInstances.html);
5. EC2 DescribeInstances (:func:`spotkit.chaos.probes.describe_instances`) -> the instance's tags.

Job states (https://docs.aws.amazon.com/batch/latest/userguide/job_states.html): SUBMITTED, RUNNABLE,
STARTING and RUNNING are on their way to (or on) an instance and are followed; PENDING is followed
only without unfinished ``dependsOn`` jobs (an array parent is PENDING while its children run);
SUCCEEDED and FAILED are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from spotkit.chaos import probes
from spotkit.chaos.errors import ChaosUsageError
from spotkit.core.lookup import describe_jobs

#: The statuses a followed job may have (PENDING only without unfinished dependencies).
FOLLOWED_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
FINISHED_STATUSES = ("SUCCEEDED", "FAILED")


class JobRefused(ChaosUsageError):
    """``--job-id`` names a job the experiment cannot act on; the message is one line. Nothing was
    changed (the CLI exits 2)."""


@dataclass
class FollowedJob:
    """Where a job runs, as read from AWS.

    Attributes:
        job_id: the job (an array parent stands for its children).
        detail: its DescribeJobs JobDetail.
        job_queue: the job queue ARN (``jobQueue``).
        job_definition: the job definition ARN (``jobDefinition``).
        compute_environment: the CE the job runs on (or, not placed yet, the queue's only CE).
        queue_compute_environments: every CE of the queue, in ``computeEnvironmentOrder`` order.
        instance_id: the EC2 instance under the current attempt (None: not placed yet, or an array parent).
        container_instance_arn: the current attempt's ECS container instance ARN (None: not placed).
    """

    job_id: str
    detail: dict
    job_queue: str
    job_definition: str
    compute_environment: probes.ComputeEnvironment
    queue_compute_environments: list = field(default_factory=list)
    instance_id: str | None = None
    container_instance_arn: str | None = None

    @property
    def status(self) -> str:
        return self.detail.get("status", "")

    def to_dict(self) -> dict:
        """The report's ``followed_job``: ids and names only."""
        return {"job_id": self.job_id, "job_name": self.detail.get("jobName"), "status": self.status,
                "job_queue": self.job_queue, "job_definition": self.job_definition,
                "compute_environment": self.compute_environment.name,
                "compute_environment_arn": self.compute_environment.arn,
                "container_instance_arn": self.container_instance_arn, "instance_id": self.instance_id}


def _refuse(job_id: str, why: str) -> JobRefused:
    return JobRefused(f"--job-id {job_id}: {why}")


def _status_refusal(batch: Any, job_id: str, job: dict) -> str | None:
    status = job.get("status")
    if status in FINISHED_STATUSES:
        return (f"the job is {status} ({job.get('statusReason') or 'no statusReason'}): nothing runs to interrupt; "
                "give a RUNNABLE or RUNNING job")
    if status == "PENDING":
        deps = [d.get("jobId") for d in job.get("dependsOn") or [] if d.get("jobId")]
        waiting = [d for d, detail in describe_jobs(batch, deps).items()
                   if detail.get("status") not in FINISHED_STATUSES] if deps else []
        if waiting:
            return (f"the job is PENDING, waiting for job(s) {', '.join(waiting)} to finish (dependsOn); run the "
                    "experiment once it is RUNNABLE or RUNNING")
    if status not in FOLLOWED_STATUSES:
        return f"the job is {status or 'in no known status'}; give a RUNNABLE or RUNNING job"
    return None


def _fargate(job: dict) -> bool:
    return "FARGATE" in (job.get("platformCapabilities") or [])


def follow_job(batch: Any, ecs: Any, job_id: str) -> FollowedJob:
    """Follow ``job_id`` to its job queue, compute environment and EC2 instance (read-only calls).

    Returns:
        the :class:`FollowedJob`; ``instance_id`` None while the job is not placed (then the queue
        must have exactly one CE) or for an array parent (its children are found later by the runner).

    Raises:
        JobRefused: the job is unknown; finished; PENDING on unfinished dependencies; on Fargate; in a
            queue that cannot be read or has no CE; not placed yet in a queue of several CEs; or its
            container instance is in none of its queue's CEs. One line each, saying why.
        botocore.exceptions.ClientError / BotoCoreError: a Describe call failed.
    """
    job = describe_jobs(batch, [job_id]).get(job_id)
    if job is None:
        raise _refuse(job_id, "no such job (DescribeJobs returned nothing; Batch keeps finished jobs about 7 days)")
    why = _status_refusal(batch, job_id, job)
    if why:
        raise _refuse(job_id, why)
    if _fargate(job):
        raise _refuse(job_id, "the job runs on Fargate (platformCapabilities FARGATE): there is no EC2 instance "
                              "to interrupt")
    queue_arn = job.get("jobQueue") or ""
    queues = batch.describe_job_queues(jobQueues=[queue_arn]).get("jobQueues") or []
    if not queues:
        raise _refuse(job_id, f"its job queue {queue_arn or '(none)'} cannot be read (DescribeJobQueues)")
    order = sorted(queues[0].get("computeEnvironmentOrder") or [], key=lambda c: c.get("order", 0))
    ces = [probes.describe_compute_environment(batch, c["computeEnvironment"]) for c in order]
    ces = [c for c in ces if c is not None]
    if not ces:
        raise _refuse(job_id, f"its job queue {queues[0].get('jobQueueName')} has no compute environment")
    fargate = [c for c in ces if c.backend == probes.BACKEND_FARGATE]
    if len(fargate) == len(ces):
        raise _refuse(job_id, f"its job queue {queues[0].get('jobQueueName')} places jobs only on Fargate "
                              f"({', '.join(f'{c.name} {c.resource_type}' for c in ces)}): there is no EC2 "
                              "instance to interrupt")
    followed = FollowedJob(job_id=job_id, detail=job, job_queue=queues[0].get("jobQueueArn") or queue_arn,
                           job_definition=job.get("jobDefinition") or "", compute_environment=ces[0],
                           queue_compute_environments=ces)
    ci_arn = probes.container_instance_arn(job) if job.get("status") in ("STARTING", "RUNNING") else None
    if ci_arn:
        followed.container_instance_arn = ci_arn
        for ce in ces:
            if ce.backend == probes.BACKEND_FARGATE:
                continue
            try:
                followed.instance_id = probes.instance_of_job(batch, ecs, job, [ce.arn])
            except probes.HostLookupError:
                continue
            followed.compute_environment = ce
            return followed
        raise _refuse(job_id, f"its container instance {ci_arn} is in none of the ECS clusters of its queue's "
                              f"compute environments ({', '.join(c.name for c in ces)})")
    if len(ces) > 1 and not (job.get("arrayProperties") or {}).get("size"):
        raise _refuse(job_id, f"the job is {job.get('status')} and not placed yet; its queue "
                              f"{queues[0].get('jobQueueName')} has {len(ces)} compute environments "
                              f"({', '.join(c.name for c in ces)}), so which one it will run on is not known: run "
                              "the experiment once it is RUNNING")
    return followed


def retry_refusal(followed: FollowedJob, should_retry: Callable[..., bool]) -> str | None:
    """Why native retry cannot bring the followed job back after a host loss (None: it can).

    ``should_retry(retry_strategy, attempts_made, status_reason)`` applies AWS Batch's retry rules
    (AWS Batch User Guide, "Automated job retries", job_retries.html): the attempt lost with its host is
    attempt ``len(attempts) + 1``; a retry needs attempts left and no ``evaluateOnExit`` entry that EXITs
    on ``Host EC2 (instance i-…) terminated.``.
    """
    strategy = followed.detail.get("retryStrategy") or {}
    made = len(followed.detail.get("attempts") or []) + 1
    reason = f"Host EC2 (instance {followed.instance_id or 'i-0'}) terminated."
    if should_retry(strategy, made, reason):
        return None
    attempts = int(strategy.get("attempts") or 1)
    what = (f"retryStrategy attempts={attempts} and this is attempt {made}" if made >= attempts
            else "its retryStrategy.evaluateOnExit EXITs on 'Host EC2 (instance …) terminated.'")
    return (f"--job-id {followed.job_id}: native retry cannot bring it back ({what}): a host loss would end the job "
            "for good")


def instance_refusal(followed: FollowedJob, instance: probes.Instance | None, opt_in: tuple, *, env: str,
                     local_env: str, method_name: str, fis_method: str) -> str | None:
    """Why the followed job's instance may not be targeted (None: it may).

    The FIS role of modules/chaos-fis acts only on instances tagged ``opt_in`` (``spotkit:chaos`` =
    ``opt-in``), so the FIS method on an untagged instance would fail inside FIS: refused, saying how to
    opt in. The other methods run with the caller's credentials; outside env ``local`` the runner targets
    only tagged instances (docs/chaos.md, Safety), so an untagged instance is refused there too.
    """
    if followed.instance_id is None:
        return None
    key, value = opt_in
    where = f"instance {followed.instance_id} (under job {followed.job_id}, compute environment " \
            f"{followed.compute_environment.name})"
    if instance is None or instance.state != "running":
        return f"--job-id {followed.job_id}: {where} is {instance.state if instance else 'unknown to EC2'}, not running"
    if instance.tags.get(key) == value:
        return None
    how = (f"opt in by tagging the compute environment's instances {key}={value} (computeResources.tags, which "
           f"Batch puts on every instance it launches) or this one (ec2 create-tags --resources "
           f"{followed.instance_id} --tags Key={key},Value={value})")
    if method_name == fis_method:
        alt = " or pass --method terminate-instance (env local only)" if env == local_env else ""
        return (f"--job-id {followed.job_id}: {where} is not tagged {key}={value}, and the FIS role acts only on "
                f"instances with that tag: {how}{alt}")
    if env != local_env:
        return f"--job-id {followed.job_id}: {where} is not tagged {key}={value} (outside env local only tagged " \
               f"instances are targeted): {how}"
    return None
