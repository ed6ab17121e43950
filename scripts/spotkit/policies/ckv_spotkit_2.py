"""CKV_SPOTKIT_2: a job definition that retries does not retry everything.

Why: with attempts >= 2, an attempt that matches no evaluate_on_exit entry is retried (AWS Batch User
Guide, "Automated job retries", https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html).
Without a final catch-all EXIT a bug in the job's code runs attempts times, and source post 000 (AWS
China blog on Spot-interrupted Batch jobs) names exactly that: plain retries cannot tell a Spot reclaim
from a code error, and re-running a code error only hides it. Passes when there is no retry (attempts
<= 1) or an entry `action = "EXIT"` matches everything (on_exit_code, on_reason or on_status_reason
`*`).
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:  # imported as spotkit.policies.<module>
    from . import spotkit_policy_util as u
except ImportError:  # executed by checkov --external-checks-dir (the directory is on sys.path)
    import spotkit_policy_util as u


GUIDELINE = "https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html"


class JobDefinitionDoesNotRetryEverything(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Spot: do not retry code errors: end retry_strategy with a catch-all "
                'evaluate_on_exit { action = "EXIT", on_reason = "*" } after the RETRY on "Host EC2*"'
            ),
            id="CKV_SPOTKIT_2",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["aws_batch_job_definition"],
            guideline=GUIDELINE,
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        retry = u.block(conf, "retry_strategy")
        if retry is None:
            return CheckResult.PASSED  # attempts defaults to 1: nothing is re-run
        attempts = u.as_int(retry.get("attempts"))
        if attempts is u.UNRESOLVED:
            return CheckResult.UNKNOWN
        if attempts is None or attempts < 2:
            return CheckResult.PASSED
        if "dynamic" in retry and not retry.get("evaluate_on_exit"):
            return CheckResult.UNKNOWN
        for entry in u.blocks(retry, "evaluate_on_exit"):
            values = [u.as_str(entry.get("action"))] + [
                u.as_condition(entry.get(k)) for k in ("on_exit_code", "on_reason", "on_status_reason")]
            if u.UNRESOLVED in values:
                return CheckResult.UNKNOWN
            action, conditions = (values[0] or "").upper(), [v for v in values[1:] if v is not None]
            if action == "EXIT" and conditions and all(v == "*" for v in conditions):
                return CheckResult.PASSED
        return CheckResult.FAILED


check = JobDefinitionDoesNotRetryEverything()
