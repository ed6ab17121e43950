"""CKV_SPOTKIT_9: a job definition sets an attempt timeout.

Why: a hung attempt holds its Spot instance (and its vCPUs in the compute environment) until the host
is reclaimed, and a reclaim followed by a retry or a resubmission runs it again; with
timeout.attempt_duration_seconds Batch terminates the attempt, and timed-out jobs are not retried
(AWS Batch User Guide, "Job timeouts", https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html).
Source post 000 sets an execution timeout on both its job definition and its submission; source post 003
counts the then-new timeout support as what made Batch safe to rely on. AWS's Spot best practices for
Batch (bestpractice6.html) advise jobs of 30 minutes or less on Spot: the timeout makes the bound explicit.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:  # imported as spotkit.policies.<module>
    from . import spotkit_policy_util as u
except ImportError:  # executed by checkov --external-checks-dir (the directory is on sys.path)
    import spotkit_policy_util as u


GUIDELINE = "https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html"


class JobDefinitionHasTimeout(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Spot: set timeout { attempt_duration_seconds = <longest expected attempt> } (>= 60) on the job "
                "definition so a hung attempt does not hold Spot capacity and come back on every retry"
            ),
            id="CKV_SPOTKIT_9",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["aws_batch_job_definition"],
            guideline=GUIDELINE,
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        timeout = u.block(conf, "timeout")
        if timeout is None:
            dynamic = conf.get("dynamic")
            if dynamic and "timeout" in str(dynamic):
                return CheckResult.UNKNOWN
            return CheckResult.FAILED
        seconds = u.as_int(timeout.get("attempt_duration_seconds"))
        if seconds is u.UNRESOLVED:
            return CheckResult.UNKNOWN
        return CheckResult.PASSED if seconds is not None and seconds >= 60 else CheckResult.FAILED


check = JobDefinitionHasTimeout()
