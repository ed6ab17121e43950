"""The emulator's IAM enforcement (spotkit.emulator.iam, docs/emulator.md "IAM").

* The resource ARNs each call of the function is authorised on (unit, moto in-process backends).
* Policy evaluation: explicit Deny wins, no Allow is a deny, conditions, NotResource.
* A moto server in this process with the enforcer installed, through boto3: a role allowed SubmitJob
  on queue A only is denied on queue B with AWS's error, allowed on A; an explicit Deny beats the
  Allow; the "testing" keys stay unrestricted; each service answers in its own protocol.
* Integration (Terraform on the emulator): removing the SubmitJob statement from the deployed
  function's real role policy makes the function's resubmission fail with AccessDenied; restoring it
  makes it succeed.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import REGION, free_port, wait_for
from spotkit.emulator import iam
from test_integration_chaos import stage  # noqa: F401  (module-scoped: Terraform applied once here)

ACCOUNT = "123456789012"


def _doc(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _checks(service, operation, params, resolver, **kw):
    return [(c.action, list(c.resources)) for c in iam.required_checks(service, operation, params, resolver, **kw)]


# ------------------------------------------------------------------ resource mapping
def test_put_events_is_authorised_on_each_entry_bus_and_get_parameter_on_the_parameter():
    r = iam.Resolver(ACCOUNT, REGION)
    bus = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/"
    assert _checks("events", "PutEvents", {"Entries": [{"Source": "spotkit"}, {"EventBusName": "ops"},
                                                        {"EventBusName": bus + "ops"}]}, r) == [
        ("events:PutEvents", [bus + "default", bus + "ops"])]
    assert _checks("ssm", "GetParameter", {"Name": "/spotkit/local/slack-webhook-url", "WithDecryption": True}, r) == [
        ("ssm:GetParameter", [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/spotkit/local/slack-webhook-url"])]


def test_submit_job_is_authorised_on_the_queue_and_the_definition_revision(batch_resources):
    r = iam.Resolver(ACCOUNT, REGION)
    jd = batch_resources.job_definition_arn  # .../job-definition/spotkit-test-def:1
    unversioned = jd.rsplit(":", 1)[0]
    batch = boto3.client("batch", region_name=REGION)
    container = {"image": "busybox", "command": ["true"], "resourceRequirements": [
        {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]}
    jd2 = batch.register_job_definition(jobDefinitionName="spotkit-test-def", type="container",
                                        containerProperties=container)["jobDefinitionArn"]
    assert jd2.endswith(":2")
    queue = batch_resources.job_queue_arn
    for given, expected in ((jd, jd), ("spotkit-test-def:1", jd), (unversioned, jd2), ("spotkit-test-def", jd2)):
        assert _checks("batch", "SubmitJob", {"jobQueue": queue, "jobDefinition": given}, r) == [
            ("batch:SubmitJob", [queue, expected])], given
    # a queue named by name; tags add TagResource on the definition revision (captured AWS error)
    assert _checks("batch", "SubmitJob", {"jobQueue": "spotkit-test-queue", "jobDefinition": "spotkit-test-def",
                                          "tags": {"a": "b"}}, r) == [
        ("batch:SubmitJob", [queue, jd2]), ("batch:TagResource", [jd2])]
    # an ARN that names no job definition is evaluated on the queue alone (moto then refuses the call)
    assert _checks("batch", "SubmitJob", {"jobQueue": queue, "jobDefinition": "arn:aws:batch:x"}, r) == [
        ("batch:SubmitJob", [queue])]
    # the latest ACTIVE revision: deregistering 2 makes a bare name resolve to 1 again
    batch.deregister_job_definition(jobDefinition=jd2)
    assert _checks("batch", "SubmitJob", {"jobQueue": queue, "jobDefinition": "spotkit-test-def"}, r)[0][1] == [
        queue, jd]


def test_batch_reads_have_no_resource_level_permissions_and_tag_calls_name_their_arn():
    r = iam.Resolver(ACCOUNT, REGION)
    for op in ("DescribeJobs", "ListJobs", "DescribeJobDefinitions"):
        assert _checks("batch", op, {"jobs": ["x"]}, r) == [(f"batch:{op}", ["*"])]
    job = f"arn:aws:batch:{REGION}:{ACCOUNT}:job/0b4a"
    path = "/v1/tags/" + job.replace(":", "%3A").replace("/", "%2F")
    assert _checks("batch", "TagResource", {"tags": {"k": "v"}}, r, method="POST", path=path) == [
        ("batch:TagResource", [job])]
    assert _checks("batch", "TerminateJob", {"jobId": "0b4a"}, r) == [("batch:TerminateJob", [job])]


def test_dynamodb_sns_sqs_kms_logs_resources(aws):
    r = iam.Resolver(ACCOUNT, REGION)
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/idem"
    for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        assert _checks("dynamodb", op, {"TableName": "idem", "Key": {}}, r) == [(f"dynamodb:{op}", [table])]
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/spotkit", TargetKeyId=key)
    sns = boto3.client("sns", region_name=REGION)
    plain = sns.create_topic(Name="plain")["TopicArn"]
    sealed = sns.create_topic(Name="sealed", Attributes={"KmsMasterKeyId": "alias/spotkit"})["TopicArn"]
    managed = sns.create_topic(Name="managed", Attributes={"KmsMasterKeyId": "alias/aws/sns"})["TopicArn"]
    assert _checks("sns", "Publish", {"TopicArn": plain}, r) == [("sns:Publish", [plain])]
    assert _checks("sns", "Publish", {"TopicArn": managed}, r) == [("sns:Publish", [managed])]
    checks = iam.required_checks("sns", "Publish", {"TopicArn": sealed}, r)
    assert [(c.action, list(c.resources), dict(c.context)) for c in checks] == [
        ("sns:Publish", [sealed], {}),
        ("kms:GenerateDataKey", [key], {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}),
        ("kms:Decrypt", [key], {"kms:ViaService": f"sns.{REGION}.amazonaws.com"})]
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="events", Attributes={"KmsMasterKeyId": key})["QueueUrl"]
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:events"
    assert _checks("sqs", "SendMessage", {"QueueUrl": url}, r) == [
        ("sqs:SendMessage", [queue]), ("kms:GenerateDataKey", [key]), ("kms:Decrypt", [key])]
    assert _checks("sqs", "ReceiveMessage", {"QueueUrl": url}, r) == [
        ("sqs:ReceiveMessage", [queue]), ("kms:Decrypt", [key])]
    assert _checks("sqs", "DeleteMessage", {"QueueUrl": url}, r) == [("sqs:DeleteMessage", [queue])]
    assert _checks("kms", "Decrypt", {"KeyId": "alias/spotkit"}, r) == [("kms:Decrypt", [key])]
    assert _checks("logs", "PutLogEvents", {"logGroupName": "/aws/lambda/f", "logStreamName": "s"}, r) == [
        ("logs:PutLogEvents", [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/f:log-stream:s"])]
    unmapped = iam.required_checks("ec2", "DescribeInstances", {}, r)
    assert [(c.action, c.resources, c.mapped) for c in unmapped] == [("ec2:DescribeInstances", ("*",), False)]


# ------------------------------------------------------------------ evaluation
def test_evaluation_explicit_deny_wins_no_allow_denies_and_conditions_apply():
    q = "arn:aws:batch:us-east-1:1:job-queue/a"
    allow = {"Effect": "Allow", "Action": "batch:SubmitJob", "Resource": q}
    deny = {"Effect": "Deny", "Action": "batch:*", "Resource": "*"}
    assert iam.evaluate([_doc(allow)], "batch:SubmitJob", q) == iam.ALLOW
    assert iam.evaluate([_doc(allow)], "BATCH:submitjob", q) == iam.ALLOW  # actions are case-insensitive
    assert iam.evaluate([_doc(allow)], "batch:SubmitJob", q + "b") == iam.IMPLICIT_DENY
    assert iam.evaluate([_doc(allow), _doc(deny)], "batch:SubmitJob", q) == iam.EXPLICIT_DENY
    assert iam.evaluate([], "batch:SubmitJob", q) == iam.IMPLICIT_DENY
    wildcards = {"Effect": "Allow", "Action": "batch:SubmitJob", "Resource": "arn:aws:batch:*:1:job-?ueue/*"}
    assert iam.evaluate([_doc(wildcards)], "batch:SubmitJob", q) == iam.ALLOW
    assert iam.evaluate([_doc({"Effect": "Allow", "NotAction": "sqs:*", "NotResource": q})],
                        "batch:SubmitJob", q) == iam.IMPLICIT_DENY
    # a regex character in a policy is literal
    assert iam.evaluate([_doc({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:r:1:a.b"})],
                        "sqs:SendMessage", "arn:aws:sqs:r:1:aXb") == iam.IMPLICIT_DENY
    via = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
           "Condition": {"StringEquals": {"kms:ViaService": ["sqs.us-east-1.amazonaws.com"]}}}
    assert iam.evaluate([_doc(via)], "kms:Decrypt", "k", {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}) == iam.ALLOW
    assert iam.evaluate([_doc(via)], "kms:Decrypt", "k", {"kms:ViaService": "sns.us-east-1.amazonaws.com"}) == \
        iam.IMPLICIT_DENY
    assert iam.evaluate([_doc(via)], "kms:Decrypt", "k") == iam.IMPLICIT_DENY  # a missing key fails the condition
    # a Deny whose condition is not met does not apply (moto alone would deny)
    guarded = dict(deny, Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}})
    assert iam.evaluate([_doc(allow), _doc(guarded)], "batch:SubmitJob", q) == iam.ALLOW


def test_denial_messages_read_like_aws():
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/fn"
    assert iam.denial_message(principal, "batch:SubmitJob", "arn:q", False) == (
        f"User: {principal} is not authorized to perform: batch:SubmitJob on resource: arn:q because no "
        "identity-based policy allows the batch:SubmitJob action")
    assert iam.denial_message(principal, "batch:SubmitJob", "arn:q", True).endswith(
        "on resource: arn:q with an explicit deny in an identity-based policy")


def test_query_protocol_denials_parse_as_aws_codes():
    from botocore.parsers import create_parser

    for service, code in (("sqs", "AccessDenied"), ("sns", "AuthorizationError")):
        denied = iam.access_denied(service, "User: u is not authorized", json_protocol=False)
        parsed = create_parser("query").parse({"status_code": denied.code, "headers": {},
                                               "body": denied.description.encode()}, None)
        assert (denied.code, parsed["Error"]["Code"], parsed["Error"]["Message"]) == (
            403, code, "User: u is not authorized")


def test_execution_role_credentials_are_reused_until_close_to_expiry(aws, monkeypatch):
    enforcer = iam.Enforcer(ACCOUNT, REGION)
    fn = SimpleNamespace(role=f"arn:aws:iam::{ACCOUNT}:role/r", function_name="fn")
    first = enforcer.credentials_for(fn)
    assert set(first) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert enforcer.credentials_for(fn) == first
    now = time.time()
    monkeypatch.setattr(iam.time, "time", lambda: now + iam.CREDENTIAL_SECONDS - iam.RENEW_MARGIN_SECONDS + 1)
    renewed = enforcer.credentials_for(fn)
    assert renewed["AWS_ACCESS_KEY_ID"] != first["AWS_ACCESS_KEY_ID"]
    assert enforcer._assumed_role(renewed["AWS_ACCESS_KEY_ID"]).session_name == "fn"


# ------------------------------------------------------------------ a moto server with the enforcer
@pytest.fixture
def server(aws):
    """A moto server in this process (the same backends as ``mock_aws``) with the enforcer installed;
    yields ``(endpoint, enforcer, admin)`` where ``admin(name)`` is a client with the "testing" keys."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    srv.start()
    enforcer = iam.Enforcer(ACCOUNT, REGION).install()
    endpoint = f"http://127.0.0.1:{port}"

    def admin(name):
        return boto3.client(name, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
                            aws_secret_access_key="testing")
    try:
        yield endpoint, enforcer, admin
    finally:
        enforcer.uninstall()
        srv.stop()


def _role_client(endpoint, enforcer, role_arn, name, service):
    env = enforcer.credentials_for(SimpleNamespace(role=role_arn, function_name=name))
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], aws_session_token=env["AWS_SESSION_TOKEN"],
                        config=Config(retries={"total_max_attempts": 1}))


def _stack(admin):
    iam_client, batch = admin("iam"), admin("batch")
    service = iam_client.create_role(RoleName="svc", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ce = batch.create_compute_environment(computeEnvironmentName="iam-ce", type="UNMANAGED", state="ENABLED",
                                          serviceRole=service)["computeEnvironmentArn"]
    queues = [batch.create_job_queue(jobQueueName=n, state="ENABLED", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": ce}])["jobQueueArn"] for n in ("queue-a", "queue-b")]
    jd = batch.register_job_definition(jobDefinitionName="iam-jd", type="container", containerProperties={
        "image": "busybox", "command": ["true"], "resourceRequirements": [
            {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]})["jobDefinitionArn"]
    return queues, jd


def test_a_role_allowed_on_queue_a_is_denied_on_queue_b_and_deny_beats_allow(server):
    endpoint, enforcer, admin = server
    (queue_a, queue_b), jd = _stack(admin)
    iam_client = admin("iam")
    role = iam_client.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam_client.put_role_policy(RoleName="fn-role", PolicyName="submit", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "batch:SubmitJob", "Resource": [queue_a, jd.rsplit(":", 1)[0] + ":*"]}))
    batch = _role_client(endpoint, enforcer, role, "fn", "batch")
    with pytest.raises(ClientError) as denied:
        batch.submit_job(jobName="j", jobQueue=queue_b, jobDefinition=jd)
    err = denied.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Error"]["Code"] == "AccessDeniedException"
    assert err["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/fn is not authorized to perform: batch:SubmitJob on "
        f"resource: {queue_b} because no identity-based policy allows the batch:SubmitJob action")
    assert batch.submit_job(jobName="j", jobQueue=queue_a, jobDefinition="iam-jd")["jobId"]
    # tags need batch:TagResource on the definition revision too
    with pytest.raises(ClientError) as untagged:
        batch.submit_job(jobName="j", jobQueue=queue_a, jobDefinition=jd, tags={"k": "v"})
    assert "perform: batch:TagResource on resource: " + jd in untagged.value.response["Error"]["Message"]
    # read calls the role has no statement for are denied on "*"
    with pytest.raises(ClientError) as reads:
        batch.describe_jobs(jobs=["x"])
    assert "perform: batch:DescribeJobs because no identity-based policy" in reads.value.response["Error"]["Message"]
    # an attached managed policy counts, and its explicit Deny beats the inline Allow
    arn = iam_client.create_policy(PolicyName="no-b", PolicyDocument=_doc(
        {"Effect": "Deny", "Action": "batch:Submit*", "Resource": "*"}))["Policy"]["Arn"]
    iam_client.attach_role_policy(RoleName="fn-role", PolicyArn=arn)
    with pytest.raises(ClientError) as explicit:
        batch.submit_job(jobName="j", jobQueue=queue_a, jobDefinition=jd)
    assert explicit.value.response["Error"]["Message"].endswith("with an explicit deny in an identity-based policy")
    # the "testing" keys (Terraform, tests, the CLI) stay unrestricted
    assert admin("batch").submit_job(jobName="j", jobQueue=queue_b, jobDefinition=jd)["jobId"]
    assert enforcer.stats["denied"] == 4 and enforcer.stats["allowed"] == 1


def test_each_service_answers_access_denied_in_its_own_protocol(server):
    endpoint, enforcer, admin = server
    role = admin("iam").create_role(RoleName="bare", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    admin("dynamodb").create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                                   AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                   KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    topic = admin("sns").create_topic(Name="alerts")["TopicArn"]
    url = admin("sqs").create_queue(QueueName="q")["QueueUrl"]
    key = admin("kms").create_key()["KeyMetadata"]["KeyId"]
    calls = {
        "dynamodb": (lambda c: c.put_item(TableName="t", Item={"id": {"S": "1"}}), 400, "AccessDeniedException"),
        "sns": (lambda c: c.publish(TopicArn=topic, Message="m"), 403, "AuthorizationError"),
        "sqs": (lambda c: c.send_message(QueueUrl=url, MessageBody="m"), 403, "AccessDenied"),
        "kms": (lambda c: c.encrypt(KeyId=key, Plaintext=b"x"), 400, "AccessDeniedException"),
    }
    for service, (call, status, code) in calls.items():
        with pytest.raises(ClientError) as denied:
            call(_role_client(endpoint, enforcer, role, "bare-fn", service))
        err = denied.value.response
        assert (err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"]) == (status, code), service
        assert f"assumed-role/bare/bare-fn is not authorized to perform: {service}:" in err["Error"]["Message"]
    # and the same calls pass once the role is allowed them
    admin("iam").put_role_policy(RoleName="bare", PolicyName="all", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": ["dynamodb:PutItem", "sns:Publish", "sqs:SendMessage", "kms:Encrypt"],
         "Resource": "*"}))
    for service, (call, _, _) in calls.items():
        call(_role_client(endpoint, enforcer, role, "bare-fn", service))


def test_event_source_mapping_gate_needs_the_queue_reads_and_the_keys_decrypt(server):
    endpoint, enforcer, admin = server
    role = admin("iam").create_role(RoleName="consumer", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    key = admin("kms").create_key()["KeyMetadata"]["Arn"]
    admin("sqs").create_queue(QueueName="sealed", Attributes={"KmsMasterKeyId": key})
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[ACCOUNT][REGION].queues["sealed"]
    fn = SimpleNamespace(role=role, function_name="consumer-fn")
    esm = SimpleNamespace(uuid="esm-1")
    assert enforcer.event_source_gate(esm, fn, queue) is False
    assert "sqs:ReceiveMessage on resource: " + queue.queue_arn in enforcer.denials[-1]
    admin("iam").put_role_policy(RoleName="consumer", PolicyName="read", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
         "Resource": queue.queue_arn}))
    assert enforcer.event_source_gate(esm, fn, queue) is False
    assert "kms:Decrypt on resource: " + key in enforcer.denials[-1]
    admin("iam").put_role_policy(RoleName="consumer", PolicyName="key", PolicyDocument=_doc(
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}}}))
    assert enforcer.event_source_gate(esm, fn, queue) is True


# ------------------------------------------------------------------ the deployed function (Terraform)
@pytest.mark.integration
def test_removing_submit_job_from_the_function_role_makes_its_resubmission_fail_with_access_denied(stage):  # noqa: F811
    """The applied local stack's real role policy: without its SubmitJob statement the deployed
    function's resubmission of a Spot-lost job is denied (AccessDenied naming batch:SubmitJob and the
    job queue, in the emulator log) and nothing is resubmitted; with the statement back, the record's
    next delivery resubmits the job."""
    from spotkit.chaos.probes import instance_of_job
    from spotkit.core import lineage

    run, env, home, clients = stage
    batch, ec2, ecs, lam, sqs = (clients[n] for n in ("batch", "ec2", "ecs", "lambda", "sqs"))
    kw = batch.meta
    iam_client = boto3.client("iam", endpoint_url=kw.endpoint_url, region_name=kw.region_name,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    outputs = json.loads(run("tf", "outputs", "--env", "local").stdout)
    values = {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in outputs.items()}
    function = lam.get_function_configuration(FunctionName=values["resubmit_function_name"])
    role_name = function["Role"].split("/")[-1]
    (policy_name,) = iam_client.list_role_policies(RoleName=role_name)["PolicyNames"]
    original = iam_client.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    original = original if isinstance(original, dict) else json.loads(original)
    kept = [st for st in original["Statement"] if "batch:SubmitJob" not in json.dumps(st.get("Action"))]
    assert len(kept) == len(original["Statement"]) - 1, "the role policy should have exactly one SubmitJob statement"
    log_path = home / ".spotkit" / f"emulator-{env['SPOTKIT_EMULATOR_PORT']}" / "emulator.log"
    events_url = next(u for u in sqs.list_queues()["QueueUrls"] if u.endswith("-events"))
    visibility = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["VisibilityTimeout"])[
        "Attributes"]["VisibilityTimeout"]
    queue = values["job_queue_arn"]
    denial = (f"is not authorized to perform: batch:SubmitJob on resource: {queue} because no identity-based "
              "policy allows the batch:SubmitJob action")
    denials_before = log_path.read_text(errors="replace").count(denial)

    job = batch.submit_job(jobName="spotkit-iam-denied", jobQueue=queue, jobDefinition=values["job_definition_arn"],
                           retryStrategy={"attempts": 1}, containerOverrides={"command": ["sh", "-c", "sleep 600"]})[
        "jobId"]
    wait_for("the job RUNNING", lambda: batch.describe_jobs(jobs=[job])["jobs"][0]["status"] == "RUNNING")
    iam_client.put_role_policy(RoleName=role_name, PolicyName=policy_name,
                               PolicyDocument=json.dumps(dict(original, Statement=kept)))
    # a denied record comes back after the queue's visibility timeout (6 x the function timeout):
    # shortened for the test, so the delivery after the restore comes within seconds
    sqs.set_queue_attributes(QueueUrl=events_url, Attributes={"VisibilityTimeout": "5"})
    instance = instance_of_job(batch, ecs, batch.describe_jobs(jobs=[job])["jobs"][0],
                               [values["compute_environment_arn"]])
    ec2.terminate_instances(InstanceIds=[instance])  # the Spot host goes; the CE's backend replaces it

    def successors():
        ids = [s["jobId"] for s in batch.list_jobs(jobQueue=queue, filters=[
            {"name": "JOB_NAME", "values": ["spotkit-iam-denied"]}])["jobSummaryList"]]
        return [j for j in batch.describe_jobs(jobs=ids)["jobs"] if lineage.previous_job_id(j["tags"]) == job]

    restored = False
    try:
        wait_for("the function's SubmitJob denied", lambda: log_path.read_text(errors="replace").count(denial)
              > denials_before, timeout=120)
        assert f"assumed-role/{role_name}/{function['FunctionName']} {denial}" in log_path.read_text(errors="replace")
        assert batch.describe_jobs(jobs=[job])["jobs"][0]["statusReason"].startswith("Host EC2 (instance i-")
        assert successors() == []
        iam_client.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(original))
        restored = True
        new = wait_for("the job resubmitted once SubmitJob is allowed again", successors, timeout=120)
    finally:
        if not restored:
            iam_client.put_role_policy(RoleName=role_name, PolicyName=policy_name,
                                       PolicyDocument=json.dumps(original))
        sqs.set_queue_attributes(QueueUrl=events_url, Attributes={"VisibilityTimeout": visibility})
    assert lineage.read(new[0]["tags"], new[0]["jobId"]).previous_job_id == job
    batch.terminate_job(jobId=new[0]["jobId"], reason="test done")

