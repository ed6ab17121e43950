"""CKV_SPOTKIT_1: a job definition retries Spot host loss natively.

Why: when Spot reclaims the host the attempt fails with `Host EC2 (instance i-…) terminated.`; the job's
code did nothing wrong. AWS Batch can retry exactly that reason itself: retry_strategy attempts 1-10 with
evaluate_on_exit entries matched in order, onStatusReason globs with a trailing `*` (AWS Batch User
Guide, "Automated job retries", https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html; and
"Use Amazon EC2 Spot best practices for AWS Batch", bestpractice6.html: use automated retries). Source
post 000 (AWS China blog on Spot-interrupted Batch jobs) shows the same failure reason.
Passes when attempts >= 2 and the first evaluate_on_exit entry that matches a host-loss attempt is
RETRY on on_status_reason (e.g. `Host EC2*`).
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:  # imported as spotkit.policies.<module>
    from . import spotkit_policy_util as u
except ImportError:  # executed by checkov --external-checks-dir (the directory is on sys.path)
    import spotkit_policy_util as u


GUIDELINE = "https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html"


def host_loss_action(entries: list) -> object:
    """The action of the first entry matching a host-loss attempt; None if none; UNRESOLVED if unknown."""
    for entry in entries:
        status = u.as_condition(entry.get("on_status_reason"))
        reason = u.as_condition(entry.get("on_reason"))
        code = u.as_condition(entry.get("on_exit_code"))
        action = u.as_str(entry.get("action"))
        if u.UNRESOLVED in (status, reason, code, action):
            return u.UNRESOLVED
        if status is None and reason is None and code is None:
            continue
        if status is not None and not u.glob_matches(status, u.HOST_LOSS_REASON):
            continue
        if reason not in (None, "*") or code not in (None, "*"):
            continue  # a host-loss attempt has no container reason or exit code to match
        return (action or "").upper(), status
    return None


class JobDefinitionRetriesHostLoss(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Spot: retry host loss natively in the job definition: retry_strategy { attempts >= 2, "
                'evaluate_on_exit { action = "RETRY", on_status_reason = "Host EC2*" } } (before any catch-all EXIT)'
            ),
            id="CKV_SPOTKIT_1",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["aws_batch_job_definition"],
            guideline=GUIDELINE,
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        retry = u.block(conf, "retry_strategy")
        if retry is None:
            return CheckResult.FAILED
        attempts = u.as_int(retry.get("attempts"))
        if attempts is u.UNRESOLVED:
            return CheckResult.UNKNOWN
        if attempts is None or attempts < 2:
            return CheckResult.FAILED
        if "dynamic" in retry and not retry.get("evaluate_on_exit"):
            return CheckResult.UNKNOWN  # dynamic blocks checkov could not render
        found = host_loss_action(u.blocks(retry, "evaluate_on_exit"))
        if found is u.UNRESOLVED:
            return CheckResult.UNKNOWN
        if found is None:
            return CheckResult.FAILED
        action, status = found
        # RETRY on a bare "*" is "retry everything": CKV_SPOTKIT_2 reports that; here an explicit
        # host-loss pattern is asked for.
        return CheckResult.PASSED if action == "RETRY" and status not in (None, "*") else CheckResult.FAILED


check = JobDefinitionRetriesHostLoss()
