"""CKV_SPOTKIT_3: a Spot compute environment uses a capacity-optimized allocation strategy.

Why: SPOT_PRICE_CAPACITY_OPTIMIZED (AWS's recommendation) and SPOT_CAPACITY_OPTIMIZED launch from the
Spot pools least likely to be interrupted; BEST_FIT (the default when allocation_strategy is unset) asks
for the cheapest single type and waits or is interrupted when it is scarce, and it needs a Spot Fleet
role (AWS Batch User Guide, "Instance type allocation strategies",
https://docs.aws.amazon.com/batch/latest/userguide/allocation-strategies.html; "Use Amazon EC2 Spot best
practices for AWS Batch", bestpractice6.html). Source post 000 builds its Spot CE with the console
default, a Spot Fleet: exactly the setup this check flags.
Legitimate exception: a CE kept on BEST_FIT on purpose, e.g. so a chaos test can cut its Spot Fleet's
capacity; skip with `#checkov:skip=CKV_SPOTKIT_3:<reason>`.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:  # imported as spotkit.policies.<module>
    from . import spotkit_policy_util as u
except ImportError:  # executed by checkov --external-checks-dir (the directory is on sys.path)
    import spotkit_policy_util as u


GUIDELINE = "https://docs.aws.amazon.com/batch/latest/userguide/allocation-strategies.html"
SPOT_TYPES = {"SPOT"}
GOOD = {"SPOT_PRICE_CAPACITY_OPTIMIZED", "SPOT_CAPACITY_OPTIMIZED"}


class SpotAllocationStrategy(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                'Spot: set compute_resources.allocation_strategy = "SPOT_PRICE_CAPACITY_OPTIMIZED" (or '
                '"SPOT_CAPACITY_OPTIMIZED") on the Spot compute environment; BEST_FIT (also the default) '
                "only with a skip comment naming the reason"
            ),
            id="CKV_SPOTKIT_3",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["aws_batch_compute_environment"],
            guideline=GUIDELINE,
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        resources = u.block(conf, "compute_resources")
        if resources is None:
            return CheckResult.PASSED  # UNMANAGED: nothing Batch allocates
        ce_type = u.as_str(resources.get("type"))
        if ce_type is u.UNRESOLVED:
            return CheckResult.UNKNOWN
        if (ce_type or "").upper() not in SPOT_TYPES:
            return CheckResult.PASSED
        strategy = u.as_str(resources.get("allocation_strategy"))
        if strategy is u.UNRESOLVED:
            return CheckResult.UNKNOWN
        return CheckResult.PASSED if (strategy or "BEST_FIT").upper() in GOOD else CheckResult.FAILED


check = SpotAllocationStrategy()
