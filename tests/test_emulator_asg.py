"""Auto Scaling group backend of the emulator's managed compute environments, through the public APIs.

AWS Batch serves a MANAGED SPOT CE with BEST_FIT (or no) allocation strategy with a Spot Fleet and
the other managed CEs with an EC2 Auto Scaling group (AWS Batch User Guide, "Allocation strategies",
"Using service-linked roles for AWS Batch"); docs/emulator.md, "Auto Scaling groups", lists the
sources and what is assumed. One emulator process for the module, on a free port.
"""

from __future__ import annotations

import time
import uuid

import pytest
from conftest import emulator_clients, emulator_process, wait_for

pytestmark = pytest.mark.integration  # starts an emulator process

IDLE_SECONDS = 2.0


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with emulator_process(tmp_path_factory.mktemp("emulator-asg"), "--tick", "0.1", "--dwell-seconds", "0.2",
                          "--scale-delay-seconds", "0.3", "--boot-seconds", "0.3",
                          "--idle-seconds", str(IDLE_SECONDS)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def aws(emulator):
    return emulator_clients(emulator.endpoint, ("batch", "ec2", "ecs", "iam", "autoscaling"))


@pytest.fixture(scope="module")
def network(aws):
    ec2 = aws["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="batch-asg", Description="batch", VpcId=vpc)["GroupId"]
    iam = aws["iam"]
    service = iam.create_role(RoleName=_name("svc"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fleet = iam.create_role(RoleName=_name("fleet"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=_name("ecs"))["InstanceProfile"]["Arn"]
    return {"subnet": subnet, "sg": sg, "service": service, "fleet": fleet, "profile": profile}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_stack(aws, network, allocation="SPOT_CAPACITY_OPTIMIZED", ce_type="SPOT", max_vcpus=8, retry=None,
               service_role=None):
    """CE (m5.large: 2 vCPUs each) + queue + a 1-vCPU job definition sleeping ``Ref::seconds``."""
    resources = {"type": ce_type, "minvCpus": 0, "maxvCpus": max_vcpus, "instanceTypes": ["m5.large"],
                 "subnets": [network["subnet"]], "securityGroupIds": [network["sg"]],
                 "instanceRole": network["profile"], "tags": {"team": "data", "cost-center": "42"}}
    if ce_type == "SPOT":
        resources["spotIamFleetRole"] = network["fleet"]
    if allocation:
        resources["allocationStrategy"] = allocation
    kw = {"serviceRole": service_role if service_role is not None else network["service"]}
    ce = aws["batch"].create_compute_environment(computeEnvironmentName=_name("ce"), type="MANAGED",
                                                 state="ENABLED", computeResources=resources, **kw)
    queue = aws["batch"].create_job_queue(jobQueueName=_name("q"), state="ENABLED", priority=1,
                                          computeEnvironmentOrder=[{"order": 1,
                                                                    "computeEnvironment": ce["computeEnvironmentArn"]}])
    props = {"image": "busybox", "command": ["sh", "-c", "sleep Ref::seconds"],
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]}
    jd = aws["batch"].register_job_definition(jobDefinitionName=_name("jd"), type="container",
                                              containerProperties=props, parameters={"seconds": "60"},
                                              **({"retryStrategy": retry} if retry else {}))
    return {"ce": ce["computeEnvironmentArn"], "ce_name": ce["computeEnvironmentName"],
            "queue": queue["jobQueueArn"], "jd": jd["jobDefinitionArn"]}


def submit(aws, stack, seconds="60"):
    return aws["batch"].submit_job(jobName="j", jobQueue=stack["queue"], jobDefinition=stack["jd"],
                                   parameters={"seconds": seconds})["jobId"]


def job(aws, job_id):
    return aws["batch"].describe_jobs(jobs=[job_id])["jobs"][0]


def group_of(aws, ce_name):
    """The Auto Scaling group whose name carries the CE's name (the way users find Batch's groups)."""
    groups = [g for g in aws["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"]
              if f"{ce_name}-asg-" in g["AutoScalingGroupName"]]
    assert len(groups) <= 1, groups
    return groups[0] if groups else None


def instance_of(aws, detail):
    cluster = detail["container"]["containerInstanceArn"].split("/")[-2]
    ci = aws["ecs"].describe_container_instances(cluster=cluster,
                                                 containerInstances=[detail["container"]["containerInstanceArn"]])
    return ci["containerInstances"][0]["ec2InstanceId"]


def described(aws, instance_id):
    return aws["ec2"].describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def live_in_group(aws, ce_name):
    g = group_of(aws, ce_name)
    return [i["InstanceId"] for i in (g or {}).get("Instances", [])]


def test_spot_capacity_optimized_ce_gets_an_auto_scaling_group_with_spot_instances(aws, network, emulator):
    stack = make_stack(aws, network)
    job_id = submit(aws, stack)
    running = wait_for("RUNNING", lambda: (d := job(aws, job_id))["status"] == "RUNNING" and d, timeout=30)
    instance_id = instance_of(aws, running)

    group = group_of(aws, stack["ce_name"])
    assert group is not None
    assert group["AutoScalingGroupName"].startswith(f"{stack['ce_name']}-asg-")  # a custom service role
    assert [i["InstanceId"] for i in group["Instances"]] == [instance_id]
    assert group["DesiredCapacity"] == 1 and group["MinSize"] == 0 and group["MaxSize"] == 4
    assert group["VPCZoneIdentifier"] == network["subnet"]
    asg_tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]}
    assert asg_tags == {"team": ("data", True), "cost-center": ("42", True),
                        "AWSBatchServiceTag": ("batch", True)}  # "batch" for every CE, as on AWS
    spec = group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]
    assert spec["LaunchTemplateName"].startswith("Batch-lt-")
    assert group["MixedInstancesPolicy"]["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 0
    assert group["MixedInstancesPolicy"]["InstancesDistribution"]["SpotAllocationStrategy"] == "capacity-optimized"

    template = aws["ec2"].describe_launch_templates(LaunchTemplateNames=[spec["LaunchTemplateName"]])[
        "LaunchTemplates"][0]
    assert {t["Key"]: t["Value"] for t in template["Tags"]} == {"AWSBatchServiceTag": "batch"}
    data = aws["ec2"].describe_launch_template_versions(LaunchTemplateName=spec["LaunchTemplateName"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["InstanceType"] == "m5.large" and data["SecurityGroupIds"] == [network["sg"]]
    assert data["IamInstanceProfile"] == {"Arn": network["profile"]}

    inst = described(aws, instance_id)
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags["team"] == "data" and tags["cost-center"] == "42"
    assert tags["AWSBatchServiceTag"] == "batch"
    assert tags["aws:autoscaling:groupName"] == group["AutoScalingGroupName"]
    assert "aws:ec2spot:fleet-request-id" not in tags
    assert inst["InstanceLifecycle"] == "spot"
    assert inst["InstanceType"] == "m5.large" and inst["SubnetId"] == network["subnet"]

    from spotkit.emulator.cli import holdings

    lines = holdings(emulator.endpoint)  # what `spotkit local status` prints
    assert "auto scaling groups: 0" not in lines[0]
    assert f"auto scaling group {group['AutoScalingGroupName']}: desired 1, instances 1" in lines

    fleets = aws["ec2"].describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
    assert not [f for f in fleets if any(t.get("Value") == stack["ce_name"] for t in f.get("Tags", []))]
    aws["batch"].terminate_job(jobId=job_id, reason="done")


def test_desired_capacity_follows_demand_and_scales_in_idle_instances(aws, network):
    stack = make_stack(aws, network, allocation="SPOT_PRICE_CAPACITY_OPTIMIZED", max_vcpus=8)
    jobs = [submit(aws, stack, seconds="3") for _ in range(5)]  # 5 vCPUs -> 3 m5.large
    wait_for("3 instances", lambda: len(live_in_group(aws, stack["ce_name"])) == 3, timeout=30)
    group = group_of(aws, stack["ce_name"])
    assert group["DesiredCapacity"] == 3
    assert group["MixedInstancesPolicy"]["InstancesDistribution"]["SpotAllocationStrategy"] == \
        "price-capacity-optimized"
    wait_for("jobs done", lambda: all(job(aws, j)["status"] in ("SUCCEEDED", "FAILED") for j in jobs), timeout=60)
    assert {job(aws, j)["status"] for j in jobs} == {"SUCCEEDED"}
    before = set(live_in_group(aws, stack["ce_name"]))
    wait_for("scale-in to 0", lambda: group_of(aws, stack["ce_name"])["DesiredCapacity"] == 0
             and not live_in_group(aws, stack["ce_name"]), timeout=30)
    states = {i["InstanceId"]: i["State"]["Name"] for r in aws["ec2"].describe_instances(
        InstanceIds=sorted(before))["Reservations"] for i in r["Instances"]}
    assert set(states.values()) == {"terminated"}


def test_terminated_instance_fails_the_attempt_and_the_group_replaces_it(aws, network):
    retry = {"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "Host EC2*"},
                                               {"action": "EXIT", "onReason": "*"}]}
    stack = make_stack(aws, network, retry=retry)
    job_id = submit(aws, stack)
    running = wait_for("RUNNING", lambda: (d := job(aws, job_id))["status"] == "RUNNING" and d, timeout=30)
    instance_id = instance_of(aws, running)

    aws["ec2"].terminate_instances(InstanceIds=[instance_id])  # as FIS or a user would
    again = wait_for("second attempt RUNNING", lambda: (d := job(aws, job_id))["status"] == "RUNNING"
                     and len(d["attempts"]) == 1 and d, timeout=30)
    assert again["attempts"][0]["statusReason"] == f"Host EC2 (instance {instance_id}) terminated."
    replacement = instance_of(aws, again)
    assert replacement != instance_id
    assert live_in_group(aws, stack["ce_name"]) == [replacement]
    inst = described(aws, replacement)
    assert inst["InstanceLifecycle"] == "spot"
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags["aws:autoscaling:groupName"] == group_of(aws, stack["ce_name"])["AutoScalingGroupName"]
    assert tags["team"] == "data"
    aws["batch"].terminate_job(jobId=job_id, reason="done")
    wait_for("FAILED", lambda: job(aws, job_id)["status"] == "FAILED", timeout=30)


def test_deleting_the_ce_deletes_its_group_launch_template_and_instances(aws, network):
    stack = make_stack(aws, network)
    job_id = submit(aws, stack, seconds="1")
    wait_for("SUCCEEDED", lambda: job(aws, job_id)["status"] == "SUCCEEDED", timeout=30)
    group = group_of(aws, stack["ce_name"])
    instances = [i["InstanceId"] for i in group["Instances"]]
    template = group["MixedInstancesPolicy"]["LaunchTemplate"]["LaunchTemplateSpecification"]["LaunchTemplateName"]
    assert instances

    batch = aws["batch"]
    batch.update_job_queue(jobQueue=stack["queue"], state="DISABLED")
    batch.update_compute_environment(computeEnvironment=stack["ce"], state="DISABLED")
    batch.delete_job_queue(jobQueue=stack["queue"])
    batch.delete_compute_environment(computeEnvironment=stack["ce"])
    wait_for("group deleted", lambda: group_of(aws, stack["ce_name"]) is None, timeout=30)
    names = [t["LaunchTemplateName"] for t in aws["ec2"].describe_launch_templates()["LaunchTemplates"]]
    assert template not in names
    states = {i["State"]["Name"] for r in aws["ec2"].describe_instances(InstanceIds=instances)["Reservations"]
              for i in r["Instances"]}
    assert states == {"terminated"}


def test_best_fit_spot_ce_still_gets_a_spot_fleet_with_spot_instances(aws, network):
    stack = make_stack(aws, network, allocation="BEST_FIT")
    job_id = submit(aws, stack)
    running = wait_for("RUNNING", lambda: (d := job(aws, job_id))["status"] == "RUNNING" and d, timeout=30)
    inst = described(aws, instance_of(aws, running))
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags["aws:ec2spot:fleet-request-id"].startswith("sfr-")
    assert "aws:autoscaling:groupName" not in tags
    assert inst["InstanceLifecycle"] == "spot"
    time.sleep(0.3)  # a few ticks: still no group
    assert group_of(aws, stack["ce_name"]) is None
    aws["batch"].terminate_job(jobId=job_id, reason="done")


def test_on_demand_ce_is_asg_backed_with_on_demand_instances(aws, network):
    stack = make_stack(aws, network, ce_type="EC2", allocation="BEST_FIT_PROGRESSIVE")
    job_id = submit(aws, stack)
    running = wait_for("RUNNING", lambda: (d := job(aws, job_id))["status"] == "RUNNING" and d, timeout=30)
    group = group_of(aws, stack["ce_name"])
    assert group["MixedInstancesPolicy"]["InstancesDistribution"]["OnDemandPercentageAboveBaseCapacity"] == 100
    inst = described(aws, instance_of(aws, running))
    assert "InstanceLifecycle" not in inst  # on-demand instances have none
    assert {t["Key"]: t["Value"] for t in inst["Tags"]}["aws:autoscaling:groupName"] == group["AutoScalingGroupName"]
    aws["batch"].terminate_job(jobId=job_id, reason="done")


def test_service_linked_role_names_the_group_awsbatch(aws, network):
    slr = aws["iam"].create_service_linked_role(AWSServiceName="batch.amazonaws.com")["Role"]["Arn"]
    assert ":role/aws-service-role/batch.amazonaws.com/" in slr
    stack = make_stack(aws, network, service_role=slr)
    wait_for("group", lambda: group_of(aws, stack["ce_name"]), timeout=30)  # created with no demand
    name = group_of(aws, stack["ce_name"])["AutoScalingGroupName"]
    assert name.startswith(f"AWSBatch-{stack['ce_name']}-asg-")
    assert group_of(aws, stack["ce_name"])["DesiredCapacity"] == 0


# ------------------------------------------------------------------ in process (moto's backends directly)
@pytest.fixture
def capacity(aws_credentials):
    """A :class:`Capacity` over moto's in-process backends (``mock_aws``) and a factory of managed CEs:
    ``capacity.make_ce(allocation=..., ce_type=..., state=...) -> ComputeEnvironment``."""
    import boto3
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}}):
        from moto.batch.models import batch_backends
        from moto.ec2.models import ec2_backends
        from moto.ecs.models import ecs_backends
        from spotkit.emulator.capacity import Capacity

        ec2, iam, batch = (boto3.client(n, region_name="us-east-1") for n in ("ec2", "iam", "batch"))
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        sg = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
        role = iam.create_role(RoleName="svc", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        profile = iam.create_instance_profile(InstanceProfileName="p")["InstanceProfile"]["Arn"]
        backend = batch_backends["123456789012"]["us-east-1"]
        cap = Capacity(backend, ec2_backends["123456789012"]["us-east-1"], ecs_backends["123456789012"]["us-east-1"],
                       boot_seconds=0, idle_seconds=0)

        def make_ce(allocation="SPOT_CAPACITY_OPTIMIZED", ce_type="SPOT", state="ENABLED", env_type="MANAGED"):
            resources = {"type": ce_type, "minvCpus": 0, "maxvCpus": 8, "instanceTypes": ["m5.large"],
                         "subnets": [subnet], "securityGroupIds": [sg], "instanceRole": profile,
                         "spotIamFleetRole": role, "allocationStrategy": allocation}
            kw = {"computeResources": resources} if env_type == "MANAGED" else {}
            arn = batch.create_compute_environment(computeEnvironmentName=_name("ce"), type=env_type, state=state,
                                                   serviceRole=role, **kw)["computeEnvironmentArn"]
            return backend.get_compute_environment(arn)

        cap.make_ce = make_ce
        yield cap


def test_backend_of_each_kind_of_compute_environment(capacity):
    assert capacity.backend_of(capacity.make_ce(allocation="BEST_FIT")) == "spot-fleet"
    for allocation in ("BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"):
        assert capacity.backend_of(capacity.make_ce(allocation=allocation)) == "auto-scaling-group"
    assert capacity.backend_of(capacity.make_ce(allocation="BEST_FIT", ce_type="EC2")) == "auto-scaling-group"
    assert capacity.backend_of(capacity.make_ce(env_type="UNMANAGED")) is None


def test_instance_terminated_in_process_is_reaped_and_replaced_as_spot(capacity):
    # FIS terminates through the EC2 backend, so moto's Auto Scaling never hears of it
    ce = capacity.make_ce()
    capacity.scale({ce.arn: 2.0}, time.monotonic())
    (host,) = capacity.hosts_of(ce.arn)
    name = capacity.asg_name_of(ce.arn)
    assert host.group_name == name and host.instance.lifecycle == "spot"
    capacity.ec2.terminate_instances([host.instance_id])
    assert [h.instance_id for h in capacity.reap()] == [host.instance_id]
    capacity.scale({ce.arn: 2.0}, time.monotonic())
    (new,) = capacity.hosts_of(ce.arn)
    assert new.instance_id != host.instance_id and new.instance.lifecycle == "spot"
    group = capacity.autoscaling.autoscaling_groups[name]
    assert [s.instance.id for s in group.instance_states] == [new.instance_id] and group.desired_capacity == 1


def test_disabled_ce_does_not_scale_out_and_keeps_busy_hosts(capacity):
    ce = capacity.make_ce()
    capacity.scale({ce.arn: 2.0}, time.monotonic())
    (host,) = capacity.hosts_of(ce.arn)
    host.jobs.add("job-1")
    host.used_vcpus = 2.0
    ce.state = "DISABLED"
    capacity.scale({ce.arn: 6.0}, time.monotonic() + 60)
    assert [h.instance_id for h in capacity.hosts_of(ce.arn)] == [host.instance_id]
    assert capacity.autoscaling.autoscaling_groups[capacity.asg_name_of(ce.arn)].desired_capacity == 1
    host.jobs.clear()
    host.used_vcpus = 0.0
    capacity.scale({}, time.monotonic() + 120)  # idle, DISABLED: scales in to minvCpus (0)
    assert capacity.autoscaling.autoscaling_groups[capacity.asg_name_of(ce.arn)].desired_capacity == 0
    assert host.instance.state == "terminated"
