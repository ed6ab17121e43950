"""CKV_SPOTKIT_8: a job queue cancels jobs stuck RUNNABLE for lack of capacity.

Why: when no Spot capacity can be had (every allowed pool reclaimed or exhausted) jobs wait RUNNABLE
with no end; a job_state_time_limit_action (state RUNNABLE, action CANCEL, max_time_seconds 600-86,400,
reason CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY) ends the wait so the job fails visibly and can go to an
on-demand queue (AWS Batch API Reference, JobStateTimeLimitAction,
https://docs.aws.amazon.com/batch/latest/APIReference/API_JobStateTimeLimitAction.html; User Guide,
"Jobs stuck in a RUNNABLE status"). Source post 003 monitors queues for jobs piling up and raises
MaxvCpus by hand: the wait this turns into an event.
Provider: the block exists in hashicorp/aws >= 5.63.1 only. This check cannot see which provider
a module uses, so it fails there too; on an older provider, skip with
`#checkov:skip=CKV_SPOTKIT_8:hashicorp/aws < 5.63.1 has no job_state_time_limit_action` (and upgrade).
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:  # imported as spotkit.policies.<module>
    from . import spotkit_policy_util as u
except ImportError:  # executed by checkov --external-checks-dir (the directory is on sys.path)
    import spotkit_policy_util as u


GUIDELINE = "https://docs.aws.amazon.com/batch/latest/APIReference/API_JobStateTimeLimitAction.html"


class JobQueueLimitsRunnableOnCapacity(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Spot: add job_state_time_limit_action { state = \"RUNNABLE\", action = \"CANCEL\", "
                'max_time_seconds = 3600, reason = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY" } to the job queue '
                "(hashicorp/aws >= 5.63.1) so jobs do not wait forever for Spot capacity"
            ),
            id="CKV_SPOTKIT_8",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["aws_batch_job_queue"],
            guideline=GUIDELINE,
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        actions = u.blocks(conf, "job_state_time_limit_action")
        if not actions and "dynamic" in conf:
            return CheckResult.UNKNOWN
        unknown = False
        for action in actions:
            state, reason = u.as_str(action.get("state")), u.as_str(action.get("reason"))
            if u.UNRESOLVED in (state, reason):
                unknown = True
                continue
            on_capacity = (reason or "").startswith("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY")
            if (state or "").upper() == "RUNNABLE" and on_capacity:
                return CheckResult.PASSED
        return CheckResult.UNKNOWN if unknown else CheckResult.FAILED


check = JobQueueLimitsRunnableOnCapacity()
