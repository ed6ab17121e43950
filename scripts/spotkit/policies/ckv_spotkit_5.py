"""CKV_SPOTKIT_5: a Spot compute environment does not cap the Spot price below On-Demand.

Why: bid_percentage is the most a Spot instance may cost as a percentage of the On-Demand price; with
less than 100 Batch launches nothing, or loses the instances, whenever the Spot price rises above the
cap (AWS Batch User Guide, "Compute environment parameters", bidPercentage,
https://docs.aws.amazon.com/batch/latest/userguide/compute_environment_parameters.html). Source post
000 keeps "Maximum % on-demand price" at 100 and names a Spot price above the user's bid as one of the
two causes of reclaims. Passes when bid_percentage is unset (the default, 100) or >= 100.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:  # imported as spotkit.policies.<module>
    from . import spotkit_policy_util as u
except ImportError:  # executed by checkov --external-checks-dir (the directory is on sys.path)
    import spotkit_policy_util as u


GUIDELINE = "https://docs.aws.amazon.com/batch/latest/userguide/compute_environment_parameters.html"


class SpotBidPercentage(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Spot: remove compute_resources.bid_percentage (default 100) or set it to 100 on the Spot "
                "compute environment; a lower cap loses instances whenever the Spot price rises above it"
            ),
            id="CKV_SPOTKIT_5",
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
        bid = u.as_int(resources.get("bid_percentage"))
        if bid is u.UNRESOLVED:
            return CheckResult.UNKNOWN
        # 0 is what the provider reads back for "unset" on some versions.
        return CheckResult.PASSED if bid is None or bid == 0 or bid >= 100 else CheckResult.FAILED


check = SpotBidPercentage()
