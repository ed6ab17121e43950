"""The emulator's AWS FIS data plane, asserted through the public AWS APIs (boto3).

One emulator process for the module on a free port, IAM enforced (the default) and FIS time factor
0.025 (PT2M lasts 3 s). Each test builds its own instances, tagged with a fresh value, so targets never
overlap. Events are observed as a user would: an EventBridge rule with an SQS target.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from conftest import emulator_clients, emulator_process, wait_for
from fidelity import load_capture, shapes

pytestmark = pytest.mark.integration  # starts an emulator process

FIS_TIME_SCALE = 0.025
SERVICES = ("fis", "ec2", "iam", "events", "sqs", "cloudwatch", "cloudformation", "batch", "ecs")
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ec2:SendSpotInstanceInterruptions", "ec2:TerminateInstances",
                                   "ec2:DescribeInstances"], "Resource": "*"}]}
#: AWS's id shapes (captured answers, docs/emulator.md "FIS"): EXT + 14, EXP + 15 letters and digits.
TEMPLATE_ID = re.compile(r"^EXT[A-Za-z0-9]{14}$")
EXPERIMENT_ID = re.compile(r"^EXP[A-Za-z0-9]{15}$")
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "fis.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with emulator_process(tmp_path_factory.mktemp("fis"), "--tick", "0.1", "--dwell-seconds", "0.2",
                          "--scale-delay-seconds", "0.3", "--boot-seconds", "0.3", "--idle-seconds", "30",
                          "--time-scale", "0.02", "--fis-time-scale", str(FIS_TIME_SCALE)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def aws(emulator):
    return emulator_clients(emulator.endpoint, SERVICES)


@pytest.fixture(scope="module")
def role(aws):
    """An experiment role allowed both modelled actions on every instance."""
    return _role(aws, ALLOW_ALL)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _role(aws, policy: dict) -> str:
    name = _name("fis")
    arn = aws["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    aws["iam"].put_role_policy(RoleName=name, PolicyName="fis", PolicyDocument=json.dumps(policy))
    return arn


def _instances(aws, count: int, tags: dict, spot: bool = True) -> list[str]:
    kw = {"InstanceMarketOptions": {"MarketType": "spot"}} if spot else {}
    res = aws["ec2"].run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="m5.large",
                                   TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                       {"Key": k, "Value": v} for k, v in tags.items()]}], **kw)
    return [i["InstanceId"] for i in res["Instances"]]


def _state(aws, instance_id: str) -> dict:
    return aws["ec2"].describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def _spot_template(role: str, target: dict, duration: str = "PT2M", stop=None, options=None) -> dict:
    template = {
        "description": "spot interruption", "roleArn": role,
        "targets": {"spot": {"resourceType": "aws:ec2:spot-instance", "selectionMode": "ALL", **target}},
        "actions": {"interrupt": {"actionId": "aws:ec2:send-spot-instance-interruptions",
                                  "parameters": {"durationBeforeInterruption": duration},
                                  "targets": {"SpotInstances": "spot"}}},
        "stopConditions": stop or [{"source": "none"}],
    }
    if options:
        template["experimentOptions"] = options
    return template


def _start(aws, template: dict) -> str:
    tid = aws["fis"].create_experiment_template(**template)["experimentTemplate"]["id"]
    return aws["fis"].start_experiment(experimentTemplateId=tid)["experiment"]["id"]


def _experiment(aws, eid: str) -> dict:
    return aws["fis"].get_experiment(id=eid)["experiment"]


def _wait_status(aws, eid: str, *statuses: str, timeout: float = 30.0) -> dict:
    return wait_for(f"experiment {eid} in {statuses}",
                    lambda: (lambda e: e if e["state"]["status"] in statuses else None)(_experiment(aws, eid)),
                    timeout=timeout, interval=0.1)


def _resolved(aws, eid: str) -> list[str]:
    targets = aws["fis"].list_experiment_resolved_targets(experimentId=eid)["resolvedTargets"]
    return sorted(t["targetInformation"]["arn"].rsplit("/", 1)[-1] for t in targets)


def _event_queue(aws, pattern: dict) -> str:
    url = aws["sqs"].create_queue(QueueName=_name("events"))["QueueUrl"]
    arn = aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = _name("rule")
    aws["events"].put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
    aws["events"].put_targets(Rule=rule, Targets=[{"Id": "sqs", "Arn": arn}])
    return url


def _drain(aws, url: str, until, timeout: float = 20.0) -> list[dict]:
    out: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for m in msgs:
            out.append(json.loads(m["Body"]))
            aws["sqs"].delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if until(out):
            break
        time.sleep(0.1)
    return out


# ------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("mutate, message", [
    (lambda t: t.pop("roleArn"), "roleArn is required"),
    (lambda t: t["actions"]["interrupt"].update(actionId="aws:ec2:stop-instances"),
     "not modelled by the spotkit emulator"),
    (lambda t: t["actions"]["interrupt"].update(targets={"Instances": "spot"}),
     'Unexpected target "Instances" found in action "interrupt".'),
    (lambda t: t["targets"]["spot"].update(resourceType="aws:ec2:instance"), "takes aws:ec2:spot-instance"),
    (lambda t: t["actions"]["interrupt"].update(parameters={}), 'requires parameter "durationBeforeInterruption"'),
    (lambda t: t["actions"]["interrupt"].update(parameters={"durationBeforeInterruption": "PT1M"}),
     "from PT2M to PT15M"),
    (lambda t: t["actions"]["interrupt"].update(parameters={"durationBeforeInterruption": "PT16M"}),
     "from PT2M to PT15M"),
    (lambda t: t["actions"]["interrupt"].update(parameters={"durationBeforeInterruption": "2 minutes"}),
     "ISO 8601"),
    (lambda t: t["targets"]["spot"].update(resourceArns=["arn:aws:ec2:us-east-1:123456789012:instance/i-0123"]),
     "not both"),
    (lambda t: t["targets"]["spot"].pop("resourceTags"), "requires resourceArns or resourceTags"),
    (lambda t: t["targets"]["spot"].update(selectionMode="SOME(2)"), "selectionMode"),
    (lambda t: t["targets"]["spot"].update(selectionMode="PERCENT(150)"), "out of range"),
    (lambda t: t.update(stopConditions=[{"source": "aws:cloudwatch:alarm", "value": "my-alarm"}]),
     "CloudWatch alarm ARN"),
    (lambda t: t.update(stopConditions=[{"source": "aws:sns:topic"}]), "Stop condition source"),
])
def test_invalid_templates_are_refused_with_validation_exception(emulator, role, mutate, message):
    # boto3 checks required parameters itself: send what Terraform or a raw request could send
    fis = emulator_clients(emulator.endpoint, ("fis",), parameter_validation=False)["fis"]
    template = _spot_template(role, {"resourceTags": {"chaos": "x"}})
    mutate(template)
    with pytest.raises(fis.exceptions.ValidationException) as err:
        fis.create_experiment_template(**template)
    assert message in err.value.response["Error"]["Message"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_update_is_validated_against_the_merged_template(aws, role):
    tid = aws["fis"].create_experiment_template(**_spot_template(role, {"resourceTags": {"chaos": "x"}}))[
        "experimentTemplate"]["id"]
    with pytest.raises(aws["fis"].exceptions.ValidationException, match="from PT2M to PT15M"):
        aws["fis"].update_experiment_template(id=tid, actions={"interrupt": {
            "actionId": "aws:ec2:send-spot-instance-interruptions",
            "parameters": {"durationBeforeInterruption": "PT30S"}, "targets": {"SpotInstances": "spot"}}})
    updated = aws["fis"].update_experiment_template(id=tid, description="changed")["experimentTemplate"]
    assert updated["description"] == "changed"


# ------------------------------------------------------------------------------------ targets
def test_tag_targets_with_count_and_percent_pick_spot_instances_at_random(aws, role):
    value = _name("sel")
    spot = _instances(aws, 4, {"chaos": value})
    _instances(aws, 1, {"chaos": value}, spot=False)  # on-demand: never an aws:ec2:spot-instance
    count = _start(aws, _spot_template(role, {"resourceTags": {"chaos": value}, "selectionMode": "COUNT(3)",
                                              "filters": [{"path": "State.Name", "values": ["running"]}]}))
    _wait_status(aws, count, "running", "completed")
    picked = _resolved(aws, count)
    assert len(picked) == 3 and set(picked) <= set(spot)

    value2 = _name("pct")
    spot2 = _instances(aws, 4, {"chaos": value2})
    percent = _start(aws, _spot_template(role, {"resourceTags": {"chaos": value2}, "selectionMode": "PERCENT(60)"}))
    _wait_status(aws, percent, "running", "completed")
    assert len(_resolved(aws, percent)) == 2 and set(_resolved(aws, percent)) <= set(spot2)  # 2.4 rounds down


def test_empty_target_resolution_fails_the_experiment_or_skips_the_action(aws, role):
    nobody = {"resourceTags": {"chaos": _name("none")}}
    failed = _wait_status(aws, _start(aws, _spot_template(role, nobody)), "failed")
    assert "Target resolution returned empty set" in failed["state"]["reason"]
    assert failed["actions"]["interrupt"]["state"]["status"] == "cancelled"
    skip = _spot_template(role, nobody, options={"emptyTargetResolutionMode": "skip"})
    skipped = _wait_status(aws, _start(aws, skip), "completed")
    assert skipped["actions"]["interrupt"]["state"]["status"] == "skipped"


# ------------------------------------------------------------------------------------ effects
def test_warning_and_rebalance_events_reach_an_sqs_target_in_aws_shapes_then_the_instance_is_interrupted(aws, role):
    value = _name("evt")
    (instance,) = _instances(aws, 1, {"chaos": value})
    ec2_url = _event_queue(aws, {"source": ["aws.ec2"], "detail": {"instance-id": [instance]}})
    # the kit's own rule (modules/spot-resubmit) must not see EC2 events
    batch_url = _event_queue(aws, {"source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
                                   "detail": {"status": ["FAILED"]}})
    started = time.monotonic()
    eid = _start(aws, _spot_template(role, {"resourceArns": [
        f"arn:aws:ec2:us-east-1:123456789012:instance/{instance}"]}))
    events = _drain(aws, ec2_url, lambda out: len(out) >= 2)
    by_type = {e["detail-type"]: e for e in events}
    assert set(by_type) == {"EC2 Instance Rebalance Recommendation", "EC2 Spot Instance Interruption Warning"}

    warning = by_type["EC2 Spot Instance Interruption Warning"]
    assert shapes.compare(warning, load_capture("nth_ec2_spot_interruption_warning")) == []
    assert shapes.compare(warning, load_capture("docs_ec2_spot_interruption_warning_sample"), ignore=["time"]) == []
    assert warning["source"] == "aws.ec2" and warning["detail"] == {"instance-id": instance,
                                                                   "instance-action": "terminate"}
    assert warning["resources"] == [f"arn:aws:ec2:{_state(aws, instance)['Placement']['AvailabilityZone']}"
                                    f":instance/{instance}"]
    rebalance = by_type["EC2 Instance Rebalance Recommendation"]
    assert shapes.compare(rebalance, load_capture("docs_ec2_rebalance_recommendation_sample"), ignore=["time"]) == []
    assert shapes.string_format(rebalance["time"]) == "timestamp-iso8601"
    assert rebalance["detail"] == {"instance-id": instance}
    assert rebalance["resources"] == [f"arn:aws:ec2:us-east-1:123456789012:instance/{instance}"]

    done = _wait_status(aws, eid, "completed")
    elapsed = time.monotonic() - started
    assert elapsed >= 120 * FIS_TIME_SCALE - 0.2  # interrupted after the scaled durationBeforeInterruption
    state = _state(aws, instance)
    assert state["State"]["Name"] == "terminated"
    assert state["StateReason"]["Code"] == "Server.SpotInstanceTermination"
    action = done["actions"]["interrupt"]
    assert action["state"]["status"] == "completed" and action["startTime"] <= action["endTime"]
    assert _drain(aws, batch_url, lambda out: False, timeout=0.5) == []


def test_longer_duration_sends_the_rebalance_first_and_the_warning_two_scaled_minutes_before(aws, role):
    value = _name("long")
    (instance,) = _instances(aws, 1, {"chaos": value})
    url = _event_queue(aws, {"source": ["aws.ec2"], "detail": {"instance-id": [instance]}})
    eid = _start(aws, _spot_template(role, {"resourceTags": {"chaos": value}}, duration="PT4M"))  # 6 s
    first = _drain(aws, url, lambda out: len(out) >= 1)
    assert [e["detail-type"] for e in first] == ["EC2 Instance Rebalance Recommendation"]
    assert _state(aws, instance)["State"]["Name"] == "running"
    second = _drain(aws, url, lambda out: len(out) >= 1)
    assert [e["detail-type"] for e in second] == ["EC2 Spot Instance Interruption Warning"]
    _wait_status(aws, eid, "completed")


def test_terminate_instances_acts_at_once_on_any_lifecycle(aws, role):
    value = _name("term")
    ids = _instances(aws, 2, {"chaos": value}, spot=False)
    eid = _start(aws, {
        "description": "terminate", "roleArn": role, "stopConditions": [{"source": "none"}],
        "targets": {"all": {"resourceType": "aws:ec2:instance", "resourceTags": {"chaos": value},
                            "selectionMode": "ALL"}},
        "actions": {"kill": {"actionId": "aws:ec2:terminate-instances", "targets": {"Instances": "all"}}}})
    _wait_status(aws, eid, "completed", timeout=10)
    assert {_state(aws, i)["State"]["Name"] for i in ids} == {"terminated"}


def test_spot_interruption_fails_the_running_batch_attempt_with_aws_host_reason(aws, role, emulator):
    ec2, iam, batch = aws["ec2"], aws["iam"], aws["batch"]
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=_name("batch"), Description="batch", VpcId=vpc)["GroupId"]
    service = iam.create_role(RoleName=_name("svc"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fleet_role = iam.create_role(RoleName=_name("fleet"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=_name("ecs"))["InstanceProfile"]["Arn"]
    value = _name("batch")
    ce = batch.create_compute_environment(
        computeEnvironmentName=_name("ce"), type="MANAGED", state="ENABLED", serviceRole=service,
        computeResources={"type": "SPOT", "allocationStrategy": "BEST_FIT", "minvCpus": 0, "maxvCpus": 4,
                          "instanceTypes": ["m5.large"], "subnets": [subnet], "securityGroupIds": [sg],
                          "instanceRole": profile, "spotIamFleetRole": fleet_role, "tags": {"chaos": value}})
    queue = batch.create_job_queue(jobQueueName=_name("q"), state="ENABLED", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}])["jobQueueArn"]
    jd = batch.register_job_definition(jobDefinitionName=_name("jd"), type="container", containerProperties={
        "image": "busybox", "command": ["sleep", "60"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]})
    job_id = batch.submit_job(jobName="victim", jobQueue=queue, jobDefinition=jd["jobDefinitionArn"])["jobId"]
    wait_for("job RUNNING", lambda: batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING",
             timeout=30, interval=0.1)
    eid = _start(aws, _spot_template(role, {"resourceTags": {"chaos": value},
                                            "filters": [{"path": "State.Name", "values": ["running"]}]}))
    (instance,) = wait_for("resolved targets", lambda: _resolved(aws, eid), timeout=10, interval=0.1)
    job = wait_for("job FAILED", lambda: (lambda j: j if j["status"] == "FAILED" else None)(
        batch.describe_jobs(jobs=[job_id])["jobs"][0]), timeout=30, interval=0.2)
    assert job["statusReason"] == f"Host EC2 (instance {instance}) terminated."
    assert job["attempts"][0]["statusReason"] == f"Host EC2 (instance {instance}) terminated."
    _wait_status(aws, eid, "completed")


# ------------------------------------------------------------------------------------ stopping
def test_stop_condition_alarm_stops_the_experiment_and_cancels_the_interruption(aws, role):
    value = _name("alarm")
    (instance,) = _instances(aws, 1, {"chaos": value})
    alarm = _name("stop")
    aws["cloudwatch"].put_metric_alarm(AlarmName=alarm, MetricName="Errors", Namespace="spotkit", Statistic="Sum",
                                       Period=60, EvaluationPeriods=1, Threshold=1,
                                       ComparisonOperator="GreaterThanOrEqualToThreshold")
    alarm_arn = aws["cloudwatch"].describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]
    eid = _start(aws, _spot_template(role, {"resourceTags": {"chaos": value}},
                                     stop=[{"source": "aws:cloudwatch:alarm", "value": alarm_arn}]))
    _wait_status(aws, eid, "running", timeout=5)
    aws["cloudwatch"].set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="test")
    stopped = _wait_status(aws, eid, "stopped", timeout=5)
    assert alarm_arn in stopped["state"]["reason"]
    assert stopped["actions"]["interrupt"]["state"]["status"] == "stopped" and "endTime" in stopped
    time.sleep(120 * FIS_TIME_SCALE + 0.5)
    assert _state(aws, instance)["State"]["Name"] == "running"


def test_stop_experiment_goes_stopping_then_stopped_and_cancels_pending_interruptions(aws, role):
    # cancelling an interruption whose warning was sent is ASSUMED, not verified (docs/emulator.md)
    value = _name("stop")
    (instance,) = _instances(aws, 1, {"chaos": value})
    eid = _start(aws, _spot_template(role, {"resourceTags": {"chaos": value}}))
    _wait_status(aws, eid, "running", timeout=5)
    answer = aws["fis"].stop_experiment(id=eid)["experiment"]
    assert answer["state"]["status"] == "stopping"
    stopped = _wait_status(aws, eid, "stopped", timeout=5)
    assert stopped["actions"]["interrupt"]["state"]["status"] == "stopped"
    time.sleep(120 * FIS_TIME_SCALE + 0.5)
    assert _state(aws, instance)["State"]["Name"] == "running"
    assert aws["fis"].stop_experiment(id=eid)["experiment"]["state"]["status"] == "stopped"


def test_template_and_experiment_ids_are_aws_shaped(aws, role):
    value = _name("ids")
    _instances(aws, 1, {"chaos": value})
    token = str(uuid.uuid4())
    created = aws["fis"].create_experiment_template(
        clientToken=token, tags={"Name": value},
        **_spot_template(role, {"resourceTags": {"chaos": value}}, duration="PT15M"))["experimentTemplate"]
    tid = created["id"]
    assert TEMPLATE_ID.match(tid), tid
    assert created["arn"].endswith(f":experiment-template/{tid}")
    assert aws["fis"].list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"Name": value}
    again = aws["fis"].create_experiment_template(clientToken=token,
                                                  **_spot_template(role, {"resourceTags": {"chaos": value}}))
    assert again["experimentTemplate"]["id"] == tid  # same client token, same template
    assert tid in {t["id"] for t in aws["fis"].list_experiment_templates()["experimentTemplates"]}

    started = aws["fis"].start_experiment(experimentTemplateId=tid, tags={"run": value})["experiment"]
    eid = started["id"]
    assert EXPERIMENT_ID.match(eid), eid
    assert started["experimentTemplateId"] == tid and started["arn"].endswith(f":experiment/{eid}")
    assert _experiment(aws, eid)["id"] == eid
    assert eid in {e["id"] for e in aws["fis"].list_experiments()["experiments"]}

    from spotkit.emulator.cli import holdings

    _wait_status(aws, eid, "running", timeout=5)
    assert f"FIS experiment {eid}: template {tid}, state running" in holdings(aws["fis"].meta.endpoint_url)
    aws["fis"].stop_experiment(id=eid)
    _wait_status(aws, eid, "stopped", timeout=5)
    assert not any(eid in line for line in holdings(aws["fis"].meta.endpoint_url))  # finished: not listed


# ------------------------------------------------------------------------------------ IAM
def test_a_role_without_the_permission_fails_the_experiment(aws):
    value = _name("iam")
    (instance,) = _instances(aws, 1, {"chaos": value})
    weak = _role(aws, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"}]})
    failed = _wait_status(aws, _start(aws, _spot_template(weak, {"resourceTags": {"chaos": value}})), "failed")
    assert "is not authorized to perform: ec2:SendSpotInstanceInterruptions" in failed["state"]["reason"]
    assert f"instance/{instance}" in failed["actions"]["interrupt"]["state"]["reason"]
    assert failed["actions"]["interrupt"]["state"]["status"] == "failed"
    time.sleep(120 * FIS_TIME_SCALE + 0.3)
    assert _state(aws, instance)["State"]["Name"] == "running"


def test_a_role_scoped_by_resource_tag_acts_only_on_instances_carrying_it(aws):
    scoped = _role(aws, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:SendSpotInstanceInterruptions", "Resource": "arn:aws:ec2:*:*:instance/*",
         "Condition": {"StringEquals": {"aws:ResourceTag/chaos-allowed": "true"}}}]})
    value = _name("tag")
    _instances(aws, 1, {"chaos": value})
    failed = _wait_status(aws, _start(aws, _spot_template(scoped, {"resourceTags": {"chaos": value}})), "failed")
    assert "is not authorized to perform: ec2:SendSpotInstanceInterruptions" in failed["state"]["reason"]

    value = _name("tag")
    (allowed,) = _instances(aws, 1, {"chaos": value, "chaos-allowed": "true"})
    _wait_status(aws, _start(aws, _spot_template(scoped, {"resourceTags": {"chaos": value}})), "completed")
    assert _state(aws, allowed)["State"]["Name"] == "terminated"


# ------------------------------------------------------------------------------------ info, CloudFormation
def test_info_endpoint_reports_the_factors(emulator, tmp_path):
    from spotkit.emulator import info
    from spotkit.emulator.server import ACCOUNT_ID

    details = info(emulator.endpoint)
    assert details["fis_time_scale"] == FIS_TIME_SCALE and details["time_scale"] == 0.02
    assert details["iam"] == "enforce" and details["account"] == ACCOUNT_ID
    from conftest import free_port

    assert info(f"http://127.0.0.1:{free_port()}") is None  # nothing listens
    assert info("http://127.0.0.1:9/") is None


def test_cloudformation_creates_updates_and_deletes_an_experiment_template(aws, role):
    template = {"Resources": {"Chaos": {"Type": "AWS::FIS::ExperimentTemplate", "Properties": {
        "Description": "from CloudFormation", "RoleArn": role,
        "Targets": {"SpotTargets": {"ResourceType": "aws:ec2:spot-instance", "ResourceTags": {"chaos": "cfn"},
                                    "Filters": [{"Path": "State.Name", "Values": ["running"]}],
                                    "SelectionMode": "COUNT(1)"}},
        "Actions": {"interrupt": {"ActionId": "aws:ec2:send-spot-instance-interruptions",
                                  "Parameters": {"durationBeforeInterruption": "PT2M"},
                                  "Targets": {"SpotInstances": "SpotTargets"}}},
        "StopConditions": [{"Source": "none"}], "Tags": {"Name": "spotkit-chaos"}}}},
        "Outputs": {"TemplateId": {"Value": {"Ref": "Chaos"}},
                    "TemplateIdAttr": {"Value": {"Fn::GetAtt": ["Chaos", "Id"]}}}}
    cfn, stack = aws["cloudformation"], _name("chaos")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
    tid = outputs["TemplateId"]
    assert outputs["TemplateIdAttr"] == tid and TEMPLATE_ID.match(tid), tid
    got = aws["fis"].get_experiment_template(id=tid)["experimentTemplate"]
    assert got["description"] == "from CloudFormation" and got["roleArn"] == role
    assert got["targets"]["SpotTargets"] == {"resourceType": "aws:ec2:spot-instance",
                                             "resourceTags": {"chaos": "cfn"}, "selectionMode": "COUNT(1)",
                                             "filters": [{"path": "State.Name", "values": ["running"]}]}
    assert got["actions"]["interrupt"]["actionId"] == "aws:ec2:send-spot-instance-interruptions"
    assert got["tags"] == {"Name": "spotkit-chaos"}

    template["Resources"]["Chaos"]["Properties"]["Description"] = "updated"
    cfn.update_stack(StackName=stack, TemplateBody=json.dumps(template))
    assert aws["fis"].get_experiment_template(id=tid)["experimentTemplate"]["description"] == "updated"

    cfn.delete_stack(StackName=stack)
    with pytest.raises(aws["fis"].exceptions.ResourceNotFoundException):
        aws["fis"].get_experiment_template(id=tid)


def test_cloudformation_refuses_an_invalid_template(aws, role):
    template = {"Resources": {"Chaos": {"Type": "AWS::FIS::ExperimentTemplate", "Properties": {
        "Description": "bad", "RoleArn": role,
        "Targets": {"t": {"ResourceType": "aws:ec2:spot-instance", "ResourceTags": {"a": "b"}, "SelectionMode": "ALL"}},
        "Actions": {"a": {"ActionId": "aws:ec2:reboot-instances", "Targets": {"Instances": "t"}}},
        "StopConditions": [{"Source": "none"}]}}}}
    before = {t["id"] for t in aws["fis"].list_experiment_templates()["experimentTemplates"]}
    try:
        aws["cloudformation"].create_stack(StackName=_name("bad"), TemplateBody=json.dumps(template))
    except Exception as exc:  # moto answers the resource's error directly
        assert "not modelled by the spotkit emulator" in str(exc)
    after = {t["id"] for t in aws["fis"].list_experiment_templates()["experimentTemplates"]}
    assert after == before


# ------------------------------------------------------------------------------------ cli
def test_local_up_defaults_to_the_fast_fis_factor_unless_the_environment_sets_one(monkeypatch):
    import click
    from spotkit.emulator import cli

    monkeypatch.delenv(cli.FIS_TIME_SCALE_ENV, raising=False)
    assert cli.fis_time_scale_default() == 0.025
    monkeypatch.setenv(cli.FIS_TIME_SCALE_ENV, "1")
    assert cli.fis_time_scale_default() == 1.0
    monkeypatch.setenv(cli.FIS_TIME_SCALE_ENV, "fast")
    with pytest.raises(click.ClickException):
        cli.fis_time_scale_default()
