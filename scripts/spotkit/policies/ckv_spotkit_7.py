"""CKV_SPOTKIT_7: no secret in a job definition's plain container environment.

Why: job-definition environment values are stored in the definition and returned by
DescribeJobDefinitions and DescribeJobs to anyone allowed to read them, and every resubmission copies
them; AWS Batch injects secrets from Secrets Manager or SSM Parameter Store through `secrets`
(name + valueFrom) instead (AWS Batch User Guide, "Specifying sensitive data",
https://docs.aws.amazon.com/batch/latest/userguide/specifying-sensitive-data.html). Source post 003's
job definition passes DB_PASSWORD as a plain environment value: the pattern this check flags.
Covers container_properties, node_properties and ecs_properties / eks_properties documents.
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:  # imported as spotkit.policies.<module>
    from . import spotkit_policy_util as u
except ImportError:  # executed by checkov --external-checks-dir (the directory is on sys.path)
    import spotkit_policy_util as u


GUIDELINE = "https://docs.aws.amazon.com/batch/latest/userguide/specifying-sensitive-data.html"
DOCUMENTS = ("container_properties", "node_properties", "ecs_properties", "eks_properties")


class JobDefinitionEnvironmentHasNoSecrets(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Secrets: move passwords / tokens / webhook URLs out of the job definition's environment into "
                'secrets = [{ name = "...", valueFrom = "<Secrets Manager or SSM SecureString ARN>" }]'
            ),
            id="CKV_SPOTKIT_7",
            categories=[CheckCategories.SECRETS],
            supported_resources=["aws_batch_job_definition"],
            guideline=GUIDELINE,
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        unknown = False
        problems: list = []
        for key in DOCUMENTS:
            if key not in conf:
                continue
            doc = u.as_json(conf.get(key))
            if doc is u.UNRESOLVED:
                unknown = True
                continue
            for env in u.environment_lists(doc):
                for item in env:
                    if isinstance(item, dict) and isinstance(item.get("name"), str):
                        problem = u.secret_problem(item["name"], item.get("value"))
                        if problem:
                            problems.append(problem)
        if problems:
            self.details.extend(problems)
            return CheckResult.FAILED
        return CheckResult.UNKNOWN if unknown else CheckResult.PASSED


check = JobDefinitionEnvironmentHasNoSecrets()
