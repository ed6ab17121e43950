"""The one "find the job spotkit already submitted for this failed job" lookup.

Used by the resubmit function (a SubmitJob whose response was lost, or a redelivered record) and by
the chaos experiment (which job replaced the one it killed). It takes a Batch client from the
caller, so this package itself stays free of AWS SDK imports.

How: ListJobs in the target queue filtered by ``JOB_NAME`` and ``AFTER_CREATED_AT`` (the failure
time), then DescribeJobs (up to 100 ids per call) for the lineage tag's ``previous`` job id
(ListJobs filters, https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html). ListJobs
is eventually consistent: a job submitted a moment ago may not be listed yet, so callers look again
later rather than conclude it does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spotkit.core import lineage
from spotkit.core.job import container_environment

#: DescribeJobs takes at most 100 job ids per call (API_DescribeJobs.html).
DESCRIBE_JOBS_MAX_IDS = 100


def describe_jobs(batch: Any, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{job id: JobDetail}`` for ``job_ids`` (deduplicated), one DescribeJobs call per 100 ids.

    Jobs Batch no longer returns are absent from the result.

    Raises:
        botocore.exceptions.ClientError / BotoCoreError: a DescribeJobs call failed.
    """
    ids = list(dict.fromkeys(job_ids))
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ids), DESCRIBE_JOBS_MAX_IDS):
        for detail in batch.describe_jobs(jobs=ids[i:i + DESCRIBE_JOBS_MAX_IDS]).get("jobs") or []:
            found[detail["jobId"]] = detail
    return found


def find_successors(batch: Any, *, job_queue: str, job_name: str, since_ms: int,
                    previous_job_ids: Iterable[str]) -> list[dict[str, Any]]:
    """JobDetails of jobs in ``job_queue`` named ``job_name``, created after ``since_ms`` (epoch
    milliseconds), whose lineage says they replace one of ``previous_job_ids``.

    Raises:
        botocore.exceptions.ClientError / BotoCoreError: a ListJobs/DescribeJobs call failed.
    """
    wanted = set(previous_job_ids)
    filters = [{"name": "JOB_NAME", "values": [job_name]},
               {"name": "AFTER_CREATED_AT", "values": [str(int(since_ms))]}]
    ids: list[str] = []
    for page in batch.get_paginator("list_jobs").paginate(jobQueue=job_queue, filters=filters):
        ids += [s["jobId"] for s in page.get("jobSummaryList", [])]
    return [d for d in describe_jobs(batch, ids).values()
            if lineage.previous_job_id(d.get("tags") or {}, container_environment(d)) in wanted]
