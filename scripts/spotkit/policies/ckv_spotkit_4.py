"""CKV_SPOTKIT_4: a Spot compute environment allows more than one instance type.

Why: every instance type (in each Availability Zone) is its own Spot capacity pool; a CE limited to one
type, e.g. only m5.large as in source post 000's walkthrough, has nowhere else to go when that pool is
reclaimed. AWS: diversify instance types, consider compatible sizes and families ("Use Amazon EC2 Spot
best practices for AWS Batch", https://docs.aws.amazon.com/batch/latest/userguide/bestpractice6.html;
EC2 "Best practices for Amazon EC2 Spot": be flexible about instance types and Availability Zones).
Passes with two or more entries, or one entry that is itself many types: a family (`m5`), `optimal`,
`default_x86_64` / `default_arm64`.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:  # imported as spotkit.policies.<module>
    from . import spotkit_policy_util as u
except ImportError:  # executed by checkov --external-checks-dir (the directory is on sys.path)
    import spotkit_policy_util as u


GUIDELINE = "https://docs.aws.amazon.com/batch/latest/userguide/bestpractice6.html"


class SpotInstanceTypesDiversified(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Spot: allow more than one instance type on the Spot compute environment "
                '(compute_resources.instance_type = ["m5", "m6i", "c5", ...] or several sizes), '
                "so Batch can use other Spot pools when one is reclaimed"
            ),
            id="CKV_SPOTKIT_4",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["aws_batch_compute_environment"],
            guideline=GUIDELINE,
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        resources = u.block(conf, "compute_resources")
        if resources is None:
            return CheckResult.PASSED
        ce_type = u.as_str(resources.get("type"))
        if ce_type is u.UNRESOLVED:
            return CheckResult.UNKNOWN
        if (ce_type or "").upper() != "SPOT":
            return CheckResult.PASSED
        types = u.first(resources.get("instance_type"))
        if types is None:
            return CheckResult.FAILED
        if isinstance(types, str):
            if u.is_unresolved(types):
                return CheckResult.UNKNOWN
            types = [types]
        if not isinstance(types, list) or any(not isinstance(t, str) or u.is_unresolved(t) for t in types):
            return CheckResult.UNKNOWN
        distinct = sorted(set(types))
        if len(distinct) >= 2:
            return CheckResult.PASSED
        if len(distinct) == 1 and "." not in distinct[0]:
            return CheckResult.PASSED  # a family, optimal or default_*: many types
        return CheckResult.FAILED


check = SpotInstanceTypesDiversified()
