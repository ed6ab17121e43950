"""CKV_SPOTKIT_6: no Slack webhook URL or other secret in a Lambda function's plain environment.

Why: Lambda environment variables are configuration, readable by anyone allowed
lambda:GetFunctionConfiguration and shown in the console and in Terraform state; secrets belong in
Secrets Manager or an SSM Parameter Store SecureString, read by the function at run time (AWS Lambda
Developer Guide, "Working with Lambda environment variables" and "Use Secrets Manager secrets in Lambda
functions", https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html). Source post 003
(a Japanese blog on running AWS Batch) posts FAILED jobs to Slack from a Lambda with
SLACK_WEBHOOK_URL in plain environment variables: the pattern this check flags.
Flags a variable whose value looks like a secret (Slack/Discord/Teams webhook URL, Slack token, AWS access
key id, private key) or whose name says secret (WEBHOOK, PASSWORD, SECRET, TOKEN, API_KEY, ...) unless the
name or value says it only points at the secret (`*_ARN`, `*_PARAM`, `*_SSM_NAME`, an SSM name `/...`).
"""

from __future__ import annotations

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

try:  # imported as spotkit.policies.<module>
    from . import spotkit_policy_util as u
except ImportError:  # executed by checkov --external-checks-dir (the directory is on sys.path)
    import spotkit_policy_util as u


GUIDELINE = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html"


class LambdaEnvironmentHasNoSecrets(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=(
                "Secrets: move the Slack webhook URL / password / token out of the Lambda environment into "
                "SSM Parameter Store (SecureString) or Secrets Manager; pass only its name or ARN "
                "(e.g. SLACK_WEBHOOK_PARAM) and read it at run time"
            ),
            id="CKV_SPOTKIT_6",
            categories=[CheckCategories.SECRETS],
            supported_resources=["aws_lambda_function"],
            guideline=GUIDELINE,
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        environment = u.block(conf, "environment")
        if environment is None:
            return CheckResult.PASSED
        variables = u.first(environment.get("variables"))
        if variables is None:
            return CheckResult.PASSED
        if not isinstance(variables, dict):
            return CheckResult.UNKNOWN
        problems = [p for name, value in variables.items() if (p := u.secret_problem(str(name), value))]
        if problems:
            self.details.extend(problems)
            return CheckResult.FAILED
        return CheckResult.PASSED


check = LambdaEnvironmentHasNoSecrets()
