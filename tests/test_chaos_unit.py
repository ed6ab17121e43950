"""spotkit chaos: the runner, its methods, guard, state file and rollback against moto.

Plain moto has the control plane (Batch, ECS, EC2 Spot Fleet, FIS templates and experiments) but no
data plane: jobs never get a container instance, nothing fails when a host goes away and FIS
experiments interrupt nothing. ``DataPlane`` below is a small test double for that missing part (the
emulator is the real one): it places jobs on Spot Fleet instances registered as ECS container
instances, fails a job whose host was terminated with ``Host EC2 (instance i-...) terminated.``,
retries it natively when told to, plays the resubmission Lambda, and interrupts the targets of a
running FIS experiment. Everything the runner itself does goes through real boto3 calls to moto.
"""

from __future__ import annotations

import io
import json
import os
import signal

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws
from moto.batch import models as batch_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ecs.models import ecs_backends
from moto.fis.models import fis_backends
from rich.console import Console
from spotkit.chaos import fleet as fleetlib
from spotkit.chaos import guard, methods, probes
from spotkit.chaos import state as statelib
from spotkit.chaos.config import TAG_CHAOS_RUN, ExperimentConfig
from spotkit.chaos.errors import ChaosUsageError
from spotkit.chaos.methods import fis_spot_interruption as fis_method
from spotkit.chaos.rollback import rollback
from spotkit.chaos.runner import Runner
from spotkit.core import lineage

REGION = "us-east-1"
AMI = "ami-12c6146b"
ACCOUNT = DEFAULT_ACCOUNT_ID


def client(service):
    return boto3.client(service, region_name=REGION)


@pytest.fixture
def aws(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    # No moto job threads: the DataPlane below decides what happens to jobs.
    monkeypatch.setattr(batch_models.Job, "run", lambda self: None)
    orig_details = batch_models.Job._container_details

    def details(self):
        d = orig_details(self)
        if getattr(self, "ci_arn", None):
            d["containerInstanceArn"] = self.ci_arn
        return d

    monkeypatch.setattr(batch_models.Job, "_container_details", details)
    with mock_aws():
        yield


def request_fleet(ec2, capacity=2):
    return ec2.request_spot_fleet(SpotFleetRequestConfig={
        "TargetCapacity": capacity, "IamFleetRole": "arn:aws:iam::123456789012:role/fleet",
        "AllocationStrategy": "lowestPrice", "Type": "maintain",
        "LaunchSpecifications": [{"ImageId": AMI, "InstanceType": "m5.large"}]})["SpotFleetRequestId"]


def target(fleet_id):
    return fleetlib.target_capacity(client("ec2"), fleet_id)


def make_ce(name="spotkit-ce", strategy="BEST_FIT", tags=None):
    iam, ec2, batch = client("iam"), client("ec2"), client("batch")
    try:
        role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        profile = iam.create_instance_profile(InstanceProfileName="batch")["InstanceProfile"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName="batch")["Role"]["Arn"]
        profile = iam.get_instance_profile(InstanceProfileName="batch")["InstanceProfile"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=f"batch-{name}", Description="batch", VpcId=vpc)["GroupId"]
    return batch.create_compute_environment(
        computeEnvironmentName=name, type="MANAGED", state="ENABLED", serviceRole=role, tags=tags or {},
        computeResources={"type": "SPOT", "allocationStrategy": strategy, "minvCpus": 0, "maxvCpus": 16,
                          "desiredvCpus": 0, "instanceTypes": ["m5.large"], "subnets": [subnet],
                          "securityGroupIds": [sg], "instanceRole": profile, "spotIamFleetRole": role},
    )["computeEnvironmentArn"]


@pytest.fixture
def stack(aws):
    """A BEST_FIT Spot compute environment (opted in), queue and job definition, a maintain Spot Fleet
    of 2 and a FIS experiment template with the Spot interruption action."""
    batch = client("batch")
    ce = make_ce(tags={"spotkit:chaos": "opt-in"})
    queue = batch.create_job_queue(jobQueueName="spotkit-queue", state="ENABLED", priority=1,
                                   computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    jd = batch.register_job_definition(
        jobDefinitionName="spotkit-jd", type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 512, "command": ["true"]},
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"},
                                                         {"onReason": "*", "action": "EXIT"}]},
    )["jobDefinitionArn"]
    cluster = batch.describe_compute_environments(computeEnvironments=[ce])["computeEnvironments"][0]["ecsClusterArn"]
    fleet_id = request_fleet(client("ec2"))
    template = fis_template()
    outputs = {"job_queue_arn": queue, "job_queue_name": "spotkit-queue", "job_definition_arn": jd,
               "job_definition_name": "spotkit-jd", "compute_environment_arn": ce,
               "compute_environment_name": "spotkit-ce", "chaos_spot_interruption_template_id": template,
               "chaos_fis_role_arn": "arn:aws:iam::123456789012:role/fis",
               "chaos_opt_in_tag": {"spotkit:chaos": "opt-in"}}
    return {"outputs": outputs, "fleet_id": fleet_id, "cluster": cluster, "queue": queue, "ce": ce, "jd": jd,
            "template": template}


def fis_template(stop_conditions=None):
    """A template as modules/chaos-fis makes it: targets opted-in Spot instances by tag, COUNT(1)."""
    return client("fis").create_experiment_template(
        clientToken=f"kit-template-{len(stop_conditions or [])}", description="spotkit spot interruption",
        roleArn="arn:aws:iam::123456789012:role/fis",
        stopConditions=stop_conditions or [{"source": "none"}],
        targets={"SpotInstances": {"resourceType": "aws:ec2:spot-instance",
                                   "resourceTags": {"spotkit:chaos": "opt-in"},
                                   "filters": [{"path": "State.Name", "values": ["running"]}],
                                   "selectionMode": "COUNT(1)"}},
        actions={"interrupt": {"actionId": fis_method.ACTION_ID,
                               "parameters": {"durationBeforeInterruption": "PT2M"},
                               "targets": {"SpotInstances": "SpotInstances"}}},
        tags={"Name": "spotkit-spot-interruption"},
    )["experimentTemplate"]["id"]


class DataPlane:
    """Test double for the Batch-on-Spot data plane (see module docstring). Call :meth:`step`."""

    def __init__(self, stack, *, run=True, attempts=1, lambda_resubmit=True):
        self.fleet_id, self.cluster = stack["fleet_id"], stack["cluster"]
        self.run, self.attempts, self.lambda_resubmit = run, attempts, lambda_resubmit
        self.batch = batch_models.batch_backends[ACCOUNT][REGION]
        self.ec2 = ec2_backends[ACCOUNT][REGION]
        self.ecs = ecs_backends[ACCOUNT][REGION]
        self.fis = fis_backends[ACCOUNT][REGION]
        self.resubmitted, self.registered, self.on_step, self.placed = [], {}, None, 0
        self.fis_seen, self.replacements = [], []
        self.fis_delay, self.fis_waited = 0, {}  # steps a FIS experiment waits before interrupting
        self.hosts()

    def hosts(self):
        running = [sr.instance.id for sr in self.ec2.describe_spot_fleet_instances(self.fleet_id)
                   if sr.instance.state == "running"]
        running += [i for i in self.replacements if self.ec2.get_instance(i).state == "running"]
        if not running and self.ec2.get_spot_fleet_request(self.fleet_id).target_capacity > 0:
            # moto does not relaunch after a restore or an interruption; stand in for the fleet replacing capacity.
            running = [client("ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]]
            self.replacements += running
        for host in running:
            if host not in self.registered:
                self.registered[host] = self.ecs.register_container_instance(self.cluster, host).container_instance_arn
        return running

    def step(self):
        if self.on_step:
            self.on_step()
        self._fis()
        for job in list(self.batch._jobs.values()):
            if job.status in ("SUBMITTED", "PENDING", "RUNNABLE") and self.run:
                hosts = self.hosts()
                if hosts:
                    job.host = hosts[self.placed % len(hosts)]
                    self.placed += 1
                    job.ci_arn, job.status = self.registered[job.host], "RUNNING"
            elif job.status == "RUNNING" and self.ec2.get_instance(job.host).state == "terminated":
                reason = f"Host EC2 (instance {job.host}) terminated."
                job.attempts.append({"container": {"containerInstanceArn": job.ci_arn}, "statusReason": reason})
                if len(job.attempts) < self.attempts:
                    job.status = "RUNNABLE"
                    continue
                job.status, job.job_stopped_reason, job.job_stopped = "FAILED", reason, True
                if self.lambda_resubmit:
                    self._resubmit(job)

    def _fis(self):
        """A running FIS experiment interrupts its resolved targets (resourceArns) on the next step."""
        for exp in self.fis.experiments.values():
            if exp.id in self.fis_seen or exp.status in ("stopping", "stopped"):
                continue
            self.fis_waited[exp.id] = self.fis_waited.get(exp.id, 0) + 1
            if self.fis_waited[exp.id] <= self.fis_delay:
                continue
            self.fis_seen.append(exp.id)
            ids = [arn.rsplit("/", 1)[1] for t in exp.targets.values() for arn in t.get("resourceArns") or []]
            client("ec2").terminate_instances(InstanceIds=ids)

    def _resubmit(self, job):
        tags = self.batch.list_tags_for_resource(job.arn)
        new_lineage = lineage.of_job(tags, job.job_id).successor(job.job_id)
        new = client("batch").submit_job(
            jobName=job.job_name, jobQueue=job.job_queue.arn, jobDefinition=job.job_definition.arn,
            containerOverrides={"command": job.container_overrides["command"]}, retryStrategy={"attempts": 1},
            **({"timeout": job.timeout} if job.timeout else {}),
            tags={**tags, lineage.TAG_LINEAGE: lineage.encode(new_lineage)})
        self.resubmitted.append(new["jobId"])


class FakeTime:
    """Injectable clock and sleep: each sleep advances time and lets the data plane act."""

    def __init__(self, plane=None):
        self.now, self.plane = 1000.0, plane

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        if self.plane:
            self.plane.step()


@pytest.fixture
def dirs(tmp_path):
    return {"state_path": tmp_path / ".spotkit" / "chaos-state.json", "reports_dir": tmp_path / "reports"}


class Calls:
    """Every AWS operation made through the runner's client factory, in order."""

    def __init__(self):
        self.ops, self.params = [], {}

    def factory(self, service):
        c = client(service)

        def seen(model, params, **kw):
            self.ops.append(f"{service}:{model.name}")
            self.params.setdefault(model.name, []).append(params)

        c.meta.events.register("before-parameter-build", seen)
        return c


def runner(stack, dirs, plane=None, calls=None, outputs=None, **cfg):
    t = FakeTime(plane)
    calls = calls or Calls()
    cfg.setdefault("timeout", 30)
    cfg.setdefault("poll_interval", 1)
    r = Runner(ExperimentConfig(**cfg), outputs=outputs or stack["outputs"], client_factory=calls.factory,
               time_scale=0.01, clock=t.clock, sleep=t.sleep,
               console=Console(file=io.StringIO(), width=200), **dirs)
    r.calls = calls
    return r


def job(job_id):
    return client("batch").describe_jobs(jobs=[job_id])["jobs"][0]


def progress(r):
    return r.console.file.getvalue()


# ---------------------------------------------------------------------------- pure helpers


def test_host_terminated_instance_parses_batch_status_reason():
    from spotkit.chaos import host_terminated_instance

    assert host_terminated_instance("Host EC2 (instance i-04b17daec78ef4a0b) terminated.") == "i-04b17daec78ef4a0b"
    assert host_terminated_instance("Essential container in task exited") is None
    assert host_terminated_instance(None) is None


def test_iso_durations_and_the_method_registry():
    assert fis_method.iso_seconds("PT2M") == 120 and fis_method.iso_seconds("PT1M30S") == 90
    assert fis_method.iso_seconds("PT1H") == 3600 and fis_method.iso_seconds("bogus") == 0
    assert methods.names() == ["fis-spot-interruption", "fleet-capacity", "terminate-instance"]
    handlers = methods.undo_handlers()
    assert set(handlers) == {statelib.UNDO_RESTORE_FLEET, statelib.UNDO_STOP_EXPERIMENT,
                             statelib.UNDO_DELETE_TEMPLATE}


def test_backend_follows_the_allocation_strategy():
    ce = probes.ComputeEnvironment("c", "arn", "VALID", "ENABLED", "SPOT", None, None)
    assert ce.backend == probes.BACKEND_SPOT_FLEET
    for strategy in ("SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED", "BEST_FIT_PROGRESSIVE"):
        ce.allocation_strategy = strategy
        assert ce.backend == probes.BACKEND_AUTO_SCALING
    assert methods.default_for(ce) == "fis-spot-interruption"
    ce.resource_type = "EC2"
    with pytest.raises(ChaosUsageError, match="--method terminate-instance"):
        methods.default_for(ce)


# ---------------------------------------------------------------------------- refusals (nothing changed)


def test_prod_is_refused_without_consent_before_any_aws_call(dirs):
    def no_aws(service):
        raise AssertionError(f"no AWS call expected, got a {service} client")

    r = Runner(ExperimentConfig(env="prod"), outputs={}, client_factory=no_aws, console=Console(quiet=True), **dirs)
    with pytest.raises(ChaosUsageError, match="--i-know-this-is-prod"):
        r.run()
    assert not dirs["state_path"].exists() and not dirs["reports_dir"].exists()


def test_prod_with_consent_needs_a_stop_condition_alarm(stack, dirs):
    cfg = dict(env="prod", i_know_this_is_prod=True, method="terminate-instance")
    with pytest.raises(ChaosUsageError, match="no chaos_stop_condition_alarm_arn output"):
        runner(stack, dirs, **cfg).run()
    with pytest.raises(ChaosUsageError, match="FIS template has no aws:cloudwatch:alarm stop condition"):
        runner(stack, dirs, **{**cfg, "method": None}).run()
    alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:spotkit-dlq"
    out = runner(stack, dirs, outputs={**stack["outputs"], "chaos_stop_condition_alarm_arn": alarm},
                 dry_run=True, **cfg).run()
    assert out["refusals"] == [] and alarm in out["plan"]["stop_condition"]
    with_alarm = fis_template([{"source": "aws:cloudwatch:alarm", "value": alarm}])
    out = runner(stack, dirs, outputs={**stack["outputs"], "chaos_spot_interruption_template_id": with_alarm},
                 dry_run=True, **{**cfg, "method": None}).run()
    assert out["refusals"] == [] and "(FIS stop condition)" in out["plan"]["stop_condition"]


def test_outside_local_the_compute_environment_must_opt_in(stack, dirs):
    client("batch").untag_resource(resourceArn=stack["ce"], tagKeys=["spotkit:chaos"])
    with pytest.raises(ChaosUsageError, match="has not opted in to chaos: tag it spotkit:chaos=opt-in"):
        runner(stack, dirs, env="dev").run()
    out = runner(stack, dirs, env="local", dry_run=True).run()  # local needs no opt-in
    assert out["refusals"] == []
    client("batch").tag_resource(resourceArn=stack["ce"], tags={"spotkit:chaos": "opt-in"})
    assert runner(stack, dirs, env="dev", dry_run=True).run()["refusals"] == []


def test_fleet_capacity_is_refused_on_auto_scaling_backed_compute_environments(stack, dirs):
    ce = make_ce("asg-ce", strategy="SPOT_CAPACITY_OPTIMIZED", tags={"spotkit:chaos": "opt-in"})
    outputs = {**stack["outputs"], "compute_environment_arn": ce}
    with pytest.raises(ChaosUsageError, match="needs a BEST_FIT Spot compute environment.*auto-scaling-group"):
        runner(stack, dirs, outputs=outputs, method="fleet-capacity").run()
    # the default there is the FIS method
    assert runner(stack, dirs, outputs=outputs, dry_run=True).run()["plan"]["method"] == "fis-spot-interruption"
    with pytest.raises(ChaosUsageError, match="cannot narrow it"):
        runner(stack, dirs, method="fleet-capacity", instances=1).run()


def test_fis_method_without_its_template_output_is_refused_with_the_alternatives(stack, dirs):
    outputs = {k: v for k, v in stack["outputs"].items() if k != "chaos_spot_interruption_template_id"}
    with pytest.raises(ChaosUsageError, match="no chaos_spot_interruption_template_id output.*terminate-instance"):
        runner(stack, dirs, outputs=outputs).run()


def test_leftover_state_file_is_refused(stack, dirs):
    statelib.write_state(statelib.ChaosState("chaos-old", "local", "fleet-capacity"), dirs["state_path"])
    with pytest.raises(ChaosUsageError, match="spotkit chaos rollback"):
        runner(stack, dirs).run()


def test_unreadable_outputs_refuse_before_any_change(aws, dirs):
    def outputs(env):
        raise RuntimeError("terraform output failed")

    with pytest.raises(ChaosUsageError, match="terraform output failed"):
        Runner(ExperimentConfig(), outputs=outputs, client_factory=client, **dirs).run()
    with pytest.raises(ChaosUsageError, match="neither job_definition_arn nor job_definition_name"):
        Runner(ExperimentConfig(), outputs={"job_queue_arn": "q"}, client_factory=client, **dirs).run()
    assert not dirs["reports_dir"].exists()


# ---------------------------------------------------------------------------- dry run


@pytest.mark.parametrize("method", ["fis-spot-interruption", "fleet-capacity", "terminate-instance"])
def test_dry_run_prints_the_plan_and_makes_only_read_calls(stack, dirs, method):
    DataPlane(stack)  # running instances registered in the cluster: candidates to show
    r = runner(stack, dirs, method=method, dry_run=True, jobs=2, array_size=3)
    out = r.run()
    assert out["dry_run"] is True and out["refusals"] == []
    plan = out["plan"]
    assert plan["method"] == method and plan["compute_environment"]["backend"] == "spot-fleet"
    assert len(plan["candidates"]) == 2 and plan["actions"] and plan["rollbacks"] and plan["checks"]
    ops = [op.split(":", 1)[1] for op in r.calls.ops]
    assert ops and all(op.startswith(("Describe", "List", "Get")) for op in ops), ops
    assert not dirs["state_path"].exists() and not dirs["reports_dir"].exists()
    assert client("batch").list_jobs(jobQueue=stack["queue"], jobStatus="SUBMITTED")["jobSummaryList"] == []
    text = progress(r)
    assert "nothing will be changed" in text and "backend spot-fleet" in text and method in text
    if method == "fis-spot-interruption":
        assert "FIS durations x0.01 on the emulator" in text


def test_cli_dry_run_with_a_refusal_exits_2(monkeypatch):
    monkeypatch.setattr(Runner, "run", lambda self: {"dry_run": True, "plan": {}, "refusals": ["x"]})
    assert CliRunner().invoke(_chaos_group(), ["spot", "--dry-run"]).exit_code == 2
    monkeypatch.setattr(Runner, "run", lambda self: {"dry_run": True, "plan": {}, "refusals": []})
    assert CliRunner().invoke(_chaos_group(), ["spot", "--dry-run"]).exit_code == 0


def _chaos_group():
    from spotkit.chaos.cli import chaos_group

    return chaos_group


def test_cli_prod_refusal_exits_2():
    res = CliRunner().invoke(_chaos_group(), ["spot", "--env", "prod"])
    assert res.exit_code == 2 and "--i-know-this-is-prod" in res.output


@pytest.mark.parametrize(("report", "code"), [
    ({"passed": True, "capacity_restored": True}, 0),
    ({"passed": False, "capacity_restored": True, "failure_reason": "timed out"}, 1),
    ({"passed": False, "capacity_restored": False, "failure_reason": "x"}, 3),
    ({"passed": False, "capacity_restored": True, "interrupted": "SIGTERM"}, 130),
])
def test_cli_exit_code_follows_the_report(monkeypatch, report, code):
    monkeypatch.setattr(Runner, "run", lambda self: dict(report, run_id="chaos-t"))
    res = CliRunner().invoke(_chaos_group(), ["spot", "--env", "local"])
    assert res.exit_code == code
    assert ("PASS" if report["passed"] else "FAIL") in res.output


# ---------------------------------------------------------------------------- the three methods, end to end


def test_fis_interruption_is_proven_and_its_run_scoped_template_deleted(stack, dirs):
    plane = DataPlane(stack)
    r = runner(stack, dirs, plane)
    report = r.run()
    assert report["passed"], report["failure_reason"]
    assert (report["method"], report["recovery"], report["time_scale"]) == (
        "fis-spot-interruption", "resubmitted", 0.01)
    inst = report["instance_id"]
    assert [t["instance_id"] for t in report["targets"]] == [inst]
    assert report["recovered_job_id"] == plane.resubmitted[0] != report["original_job_id"]
    # the run-scoped template: same role/action/stop conditions, the chosen instance by ARN, tagged
    (created,) = r.calls.params["CreateExperimentTemplate"]
    assert created["targets"] == {"SpotInstances": {
        "resourceType": "aws:ec2:spot-instance", "selectionMode": "ALL",
        "resourceArns": [f"arn:aws:ec2:{REGION}:123456789012:instance/{inst}"]}}
    assert created["actions"]["interrupt"]["parameters"] == {"durationBeforeInterruption": "PT2M"}
    assert created["roleArn"] == "arn:aws:iam::123456789012:role/fis"
    assert created["stopConditions"] == [{"source": "none"}] and created["tags"][TAG_CHAOS_RUN] == r.run_id
    # it is gone (undo), the kit's own template is not
    templates = [t["id"] for t in client("fis").list_experiment_templates()["experimentTemplates"]]
    assert templates == [stack["template"]]
    kinds = [(e["subject"], e["kind"]) for e in report["events"]]
    for expected in [(f"instance:{inst}", "injected"), (f"instance:{inst}", "warning"),
                     (f"instance:{inst}", "interrupted"), (f"job:{report['original_job_id']}", "FAILED"),
                     (f"job:{report['original_job_id']}", "resubmitted"),
                     (f"job:{report['original_job_id']}", "RUNNING-again")]:
        assert expected in kinds
    assert [rb["name"] for rb in report["rollbacks"]] == ["stop-fis-experiment", "delete-fis-template",
                                                          "terminate-jobs"]
    assert {a["type"] for a in report["journal"]} == {"probe", "action", "rollback"}
    assert report["jobs"][0]["passed"] is True and report["capacity_restored"] is True
    assert not dirs["state_path"].exists()
    on_disk = json.loads((dirs["reports_dir"] / "chaos-latest.json").read_text())
    assert on_disk["passed"] is True and on_disk["run_id"] == r.run_id
    assert "FIS durations x0.01 on the emulator" in progress(r)
    # cleanup terminated the probe and its resubmission
    assert job(report["recovered_job_id"])["statusReason"] == "spotkit chaos cleanup"


def test_fleet_capacity_cut_is_proven_and_capacity_restored(stack, dirs):
    plane = DataPlane(stack)
    r = runner(stack, dirs, plane, method="fleet-capacity", probe_seconds=600)
    report = r.run()
    assert report["passed"], report["failure_reason"]
    assert report["fleet_request_id"] == stack["fleet_id"] and report["original_target_capacity"] == 2
    assert target(stack["fleet_id"]) == 2 and report["capacity_restored"] is True
    assert len(report["targets"]) == 2  # the cut hits every instance of the request
    assert report["observed_status_reason"] == f"Host EC2 (instance {report['instance_id']}) terminated."
    assert 0 <= report["seconds_to_failure"] <= report["seconds_to_recovery"] <= report["seconds_to_running"]
    (probe,) = r.calls.params["SubmitJob"][:1]
    assert probe["retryStrategy"] == {"attempts": 1} and probe["tags"][TAG_CHAOS_RUN] == r.run_id
    assert "action: TargetCapacity 2 -> 0" in progress(r)
    assert report["rollbacks"][0]["name"] == "restore-fleet-capacity"  # as soon as the targets were gone


def test_terminate_instance_native_retry_on_two_instances_tracks_every_job_on_them(stack, dirs):
    plane = DataPlane(stack, attempts=3, lambda_resubmit=False)
    # someone else's job, on one of the instances
    theirs = client("batch").submit_job(jobName="nightly", jobQueue=stack["queue"], jobDefinition=stack["jd"])["jobId"]
    r = runner(stack, dirs, plane, method="terminate-instance", native_retry=True, jobs=2, instances=2)
    report = r.run()
    assert report["passed"], report["failure_reason"]
    assert len(report["targets"]) == 2
    tracked = {j["job_id"] for j in report["jobs"]}
    assert theirs in tracked and len(tracked) == 3
    assert all(j["recovery"] == "native-retry" and j["successors"] == 0 for j in report["jobs"])
    assert "retryStrategy" not in r.calls.params["SubmitJob"][0]
    assert r.calls.params["TerminateInstances"][0]["InstanceIds"] == [t["instance_id"] for t in report["targets"]]
    assert job(theirs)["status"] == "RUNNING"  # not ours: never terminated by the cleanup


def test_percent_picks_the_probe_jobs_instance_first(stack, dirs):
    plane = DataPlane(stack, attempts=3, lambda_resubmit=False)
    report = runner(stack, dirs, plane, method="terminate-instance", native_retry=True, percent=50).run()
    assert report["passed"], report["failure_reason"]
    (row,) = report["targets"]
    assert report["original_job_id"] in row["jobs"]


# ---------------------------------------------------------------------------- state file, failures, signals


def test_undo_entries_are_written_before_each_fis_call(stack, dirs):
    plane = DataPlane(stack)
    r = runner(stack, dirs, plane)
    seen = {}

    def factory(service):
        c = r.calls.factory(service)
        if service == "fis":
            for op in ("CreateExperimentTemplate", "StartExperiment"):
                def before(params, op=op, **kw):
                    seen[op] = statelib.read_state(dirs["state_path"])

                c.meta.events.register(f"provide-client-params.fis.{op}", before)
        return c

    r._client_factory = factory
    report = r.run()
    assert report["passed"], report["failure_reason"]
    kinds = [e["kind"] for e in seen["CreateExperimentTemplate"].undo]
    assert kinds == ["terminate-jobs", "delete-fis-template"]
    assert seen["CreateExperimentTemplate"].undo[1]["template_id"] is None
    st = seen["StartExperiment"]
    assert [e["kind"] for e in st.undo] == ["terminate-jobs", "delete-fis-template", "stop-fis-experiment"]
    assert st.undo[1]["template_id"] and st.undo[2]["experiment_id"] is None
    assert st.undo[0]["job_ids"] == [report["original_job_id"]]
    assert not dirs["state_path"].exists()


def test_undo_entry_is_written_before_the_capacity_cut(stack, dirs):
    r = runner(stack, dirs, DataPlane(stack), method="fleet-capacity")
    seen = []

    def factory(service):
        c = r.calls.factory(service)
        if service == "ec2":
            def before_cut(params, **kw):
                if params["TargetCapacity"] == 0:
                    seen.append(statelib.read_state(dirs["state_path"]))

            c.meta.events.register("provide-client-params.ec2.ModifySpotFleetRequest", before_cut)
        return c

    r._client_factory = factory
    assert r.run()["passed"]
    (st,) = seen
    assert st.phase == statelib.PHASE_PENDING and st.extra["fleet_request_id"] == stack["fleet_id"]
    assert st.undo[-1] == {**st.undo[-1], "kind": "restore-fleet-capacity", "fleet_request_id": stack["fleet_id"],
                           "target_capacity": 2}


def test_job_never_running_times_out_and_nothing_is_injected(stack, dirs):
    report = runner(stack, dirs, DataPlane(stack, run=False), timeout=10).run()
    assert report["passed"] is False
    assert "timed out after 10 s waiting for 1 probe job(s) RUNNING" in report["failure_reason"]
    assert report["capacity_restored"] is None and client("fis").list_experiments()["experiments"] == []
    assert not dirs["state_path"].exists()
    assert job(report["original_job_id"])["statusReason"] == "spotkit chaos cleanup"


def test_missing_resubmission_fails_and_everything_is_rolled_back(stack, dirs):
    report = runner(stack, dirs, DataPlane(stack, lambda_resubmit=False), timeout=15).run()
    assert report["passed"] is False and "no successor after" in report["failure_reason"]
    assert report["capacity_restored"] is True and not dirs["state_path"].exists()
    assert [t["id"] for t in client("fis").list_experiment_templates()["experimentTemplates"]] == [stack["template"]]


def injected(dirs):
    """True once the run wrote an undo entry for its injection (the cut, the FIS template)."""
    st = statelib.read_state(dirs["state_path"]) if dirs["state_path"].exists() else None
    return bool(st and any(e["kind"] != "terminate-jobs" for e in st.undo))


def test_stop_condition_alarm_in_alarm_stops_a_fleet_cut_and_restores(stack, dirs):
    cw = client("cloudwatch")
    cw.put_metric_alarm(AlarmName="spotkit-dlq", MetricName="m", Namespace="n", Statistic="Sum", Period=60,
                        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    alarm = cw.describe_alarms(AlarmNames=["spotkit-dlq"])["MetricAlarms"][0]["AlarmArn"]
    plane = DataPlane(stack, lambda_resubmit=False)
    plane.on_step = lambda: injected(dirs) and cw.set_alarm_state(
        AlarmName="spotkit-dlq", StateValue="ALARM", StateReason="test")
    report = runner(stack, dirs, plane, method="fleet-capacity",
                    outputs={**stack["outputs"], "chaos_stop_condition_alarm_arn": alarm}).run()
    assert report["passed"] is False and "stop condition: alarm" in report["failure_reason"]
    assert target(stack["fleet_id"]) == 2 and not dirs["state_path"].exists()


def test_interrupt_after_the_injection_still_rolls_back(stack, dirs):
    plane = DataPlane(stack)

    def interrupt_once_started():
        if client("fis").list_experiments()["experiments"]:
            plane.on_step = None
            raise KeyboardInterrupt

    plane.on_step = interrupt_once_started
    report = runner(stack, dirs, plane).run()
    assert report["interrupted"] == "SIGINT" and report["passed"] is False
    (exp,) = client("fis").list_experiments()["experiments"]
    assert client("fis").get_experiment(id=exp["id"])["experiment"]["state"]["status"] in ("stopping", "stopped",
                                                                                            "completed")
    assert [t["id"] for t in client("fis").list_experiment_templates()["experimentTemplates"]] == [stack["template"]]
    assert not dirs["state_path"].exists() and report["capacity_restored"] is True


def test_sigterm_after_the_cut_restores_capacity_and_handlers(stack, dirs):
    before = signal.getsignal(signal.SIGTERM)
    plane = DataPlane(stack)

    def sigterm_once_cut():
        if injected(dirs):
            plane.on_step = None
            os.kill(os.getpid(), signal.SIGTERM)

    plane.on_step = sigterm_once_cut
    report = runner(stack, dirs, plane, method="fleet-capacity").run()
    assert report["interrupted"] == "SIGTERM" and report["passed"] is False
    assert report["capacity_restored"] is True and target(stack["fleet_id"]) == 2
    assert not dirs["state_path"].exists() and signal.getsignal(signal.SIGTERM) is before


def test_steady_state_deviation_stops_before_any_change(stack, dirs):
    client("batch").update_job_queue(jobQueue=stack["queue"], state="DISABLED")
    r = runner(stack, dirs, DataPlane(stack))
    report = r.run()
    assert "steady-state hypothesis not met before the method" in report["failure_reason"]
    assert report["steady_state"]["before"][0]["ok"] is False
    assert "SubmitJob" not in r.calls.params and not dirs["state_path"].exists()


def test_adopted_job_is_proven_and_left_running(stack, dirs):
    plane = DataPlane(stack)
    # The FIS role acts only on opted-in instances: --job-id refuses an untagged host for the FIS method.
    client("ec2").create_tags(Resources=plane.hosts(), Tags=[{"Key": "spotkit:chaos", "Value": "opt-in"}])
    mine = client("batch").submit_job(jobName="nightly-backtest", jobQueue=stack["queue"], jobDefinition=stack["jd"],
                                      containerOverrides={"command": ["python", "backtest.py"]},
                                      retryStrategy={"attempts": 1})["jobId"]
    r = runner(stack, dirs, plane, job_id=mine)
    report = r.run()
    assert report["passed"], report["failure_reason"]
    assert report["original_job_id"] == mine and "SubmitJob" not in r.calls.params
    assert job(report["recovered_job_id"])["status"] == "RUNNING"


# ---------------------------------------------------------------------------- state file and rollback


def test_v1_state_file_is_read_as_undo_entries_and_rolled_back(aws, dirs):
    ec2 = client("ec2")
    fleet_id = request_fleet(ec2, capacity=3)
    fleetlib.cut_capacity(ec2, fleet_id)
    statelib.atomic_write_json(dirs["state_path"].parent.mkdir(parents=True) or dirs["state_path"], {
        "version": 1, "run_id": "chaos-x", "env": "local", "phase": "capacity-cut", "fleet_request_id": fleet_id,
        "original_target_capacity": 3, "instance_id": "i-0", "original_job_id": "j", "created_job_ids": []})
    st = statelib.read_state(dirs["state_path"])
    assert [e["kind"] for e in st.open_entries()] == ["terminate-jobs", "restore-fleet-capacity"]
    with pytest.raises(Exception, match="pass --env local"):
        rollback("staging", state_path=dirs["state_path"], client_factory=client)
    result = rollback("local", state_path=dirs["state_path"], client_factory=client, sleep=lambda s: None)
    assert result["status"] == "rolled-back" and target(fleet_id) == 3
    assert not dirs["state_path"].exists()
    assert rollback(state_path=dirs["state_path"], client_factory=client)["status"] == "nothing-to-roll-back"


def test_rollback_finds_a_template_and_experiment_whose_ids_were_never_written(stack, dirs):
    fis = client("fis")
    run_id = "chaos-20261126T000000Z-abcdef"
    tid = fis.create_experiment_template(
        clientToken="x", description="run copy", roleArn="arn:aws:iam::123456789012:role/fis",
        stopConditions=[{"source": "none"}], actions={"interrupt": {"actionId": fis_method.ACTION_ID}},
        tags={TAG_CHAOS_RUN: run_id})["experimentTemplate"]["id"]
    eid = fis.start_experiment(clientToken=run_id, experimentTemplateId=tid, tags={TAG_CHAOS_RUN: run_id})[
        "experiment"]["id"]
    fis.get_experiment(id=eid)  # moto: pending -> initiating
    probe = client("batch").submit_job(jobName=f"spotkit-chaos-probe-{run_id}", jobQueue=stack["queue"],
                                       jobDefinition=stack["jd"])["jobId"]
    writer = statelib.StateWriter(statelib.ChaosState(run_id, "local", "fis-spot-interruption"), dirs["state_path"])
    writer.add_undo("terminate-jobs", job_ids=[], job_queue=stack["queue"], job_names=[f"spotkit-chaos-probe-{run_id}"])
    writer.add_undo("delete-fis-template", run_id=run_id, template_id=None)
    writer.add_undo("stop-fis-experiment", run_id=run_id, template_id=tid, experiment_id=None)
    result = rollback(state_path=dirs["state_path"], client_factory=client)
    assert result["status"] == "rolled-back", result
    assert [r["kind"] for r in result["results"]] == ["stop-fis-experiment", "delete-fis-template", "terminate-jobs"]
    assert fis.get_experiment(id=eid)["experiment"]["state"]["status"] in ("stopping", "stopped")
    assert tid not in [t["id"] for t in fis.list_experiment_templates()["experimentTemplates"]]
    assert result["jobs_terminated"] == [probe] and job(probe)["statusReason"] == "spotkit chaos cleanup"
    # idempotent: the handlers again on the same (now gone) resources
    for entry in reversed(statelib.ChaosState.from_dict(result["state"]).undo):
        ok, _ = methods.undo_handlers().get(entry["kind"], lambda *a, **k: (True, ""))(
            {**entry, "template_id": tid, "experiment_id": eid}, client)
        assert ok


def test_a_failed_undo_keeps_the_state_file_with_the_done_entries_marked(aws, dirs):
    writer = statelib.StateWriter(statelib.ChaosState("chaos-y", "local", "fleet-capacity"), dirs["state_path"])
    writer.add_undo("terminate-jobs", job_ids=[])
    writer.add_undo("restore-fleet-capacity", fleet_request_id="sfr-00000000000000000", target_capacity=2)

    def broken(service):
        c = client(service)
        if service == "batch":
            c.meta.events.register("before-call", lambda **kw: (_ for _ in ()).throw(
                __import__("botocore").exceptions.EndpointConnectionError(endpoint_url="x")))
        return c

    result = rollback(state_path=dirs["state_path"], client_factory=broken)
    assert result["status"] == "rolled-back"  # a gone fleet is undone; no job id -> nothing to terminate
    writer = statelib.StateWriter(statelib.ChaosState("chaos-z", "local", "fleet-capacity"), dirs["state_path"])
    writer.add_undo("terminate-jobs", job_ids=["job-1"])
    result = rollback(state_path=dirs["state_path"], client_factory=broken)
    assert result["status"] == "failed" and dirs["state_path"].exists()


def test_unreadable_or_unknown_state_is_an_error(dirs):
    dirs["state_path"].parent.mkdir(parents=True)
    dirs["state_path"].write_text("{not json")
    with pytest.raises(statelib.StateFileError):
        statelib.read_state(dirs["state_path"])
    dirs["state_path"].write_text(json.dumps({"version": 2, "run_id": "r", "env": "local",
                                              "undo": [{"kind": "reboot-the-world"}]}))
    with pytest.raises(statelib.StateFileError, match="unknown undo entry"):
        statelib.read_state(dirs["state_path"])


def test_cli_rollback_without_state_says_nothing_to_roll_back(tmp_path, monkeypatch):
    from spotkit import paths

    monkeypatch.setattr(paths, "STATE_DIR", tmp_path)
    res = CliRunner().invoke(_chaos_group(), ["rollback"])
    assert res.exit_code == 0, res.output
    assert "nothing to roll back" in res.output


def test_guard_preflight_sentences():
    cfg = ExperimentConfig(instances=2, percent=10, timeout=0)
    problems = guard.preflight(cfg, statelib.default_state_path().with_name("none.json"))
    assert any("--instances or --percent" in p for p in problems) and any("positive" in p for p in problems)


# ---------------------------------------------------------------------------- review fixes


def _throttled(operation):
    """A client factory whose Batch ``operation`` answers TooManyRequestsException."""
    from botocore.exceptions import ClientError

    def factory(service):
        c = client(service)
        if service == "batch":
            def boom(**kw):
                raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}},
                                  operation)
            c.meta.events.register(f"before-call.batch.{operation}", boom)
        return c

    return factory


def test_a_failed_job_name_lookup_keeps_the_terminate_jobs_entry_open(stack, dirs):
    """The run died inside SubmitJob: no job id was written, only names. A throttled ListJobs must
    not be taken for "no probe job was still active"."""
    run_id = "chaos-20261126T000000Z-aaaaaa"
    name = f"spotkit-chaos-probe-{run_id}"
    probe = client("batch").submit_job(jobName=name, jobQueue=stack["queue"], jobDefinition=stack["jd"])["jobId"]
    writer = statelib.StateWriter(statelib.ChaosState(run_id, "local", "fis-spot-interruption"), dirs["state_path"])
    writer.add_undo("terminate-jobs", job_ids=[], job_queue=stack["queue"], job_names=[name])
    result = rollback(state_path=dirs["state_path"], client_factory=_throttled("ListJobs"))
    assert result["status"] == "failed", result
    (res,) = result["results"]
    assert res["ok"] is False and "TooManyRequestsException" in res["detail"]
    assert dirs["state_path"].exists() and statelib.read_state(dirs["state_path"]).open_entries()
    assert job(probe)["status"] != "FAILED"
    # once the lookup works again the rollback finishes
    result = rollback(state_path=dirs["state_path"], client_factory=client)
    assert result["status"] == "rolled-back" and result["jobs_terminated"] == [probe]


def test_rollback_finds_resubmissions_in_the_fallback_queue(stack, dirs):
    batch = client("batch")
    fallback = batch.create_job_queue(jobQueueName="spotkit-on-demand", state="ENABLED", priority=2,
                                      computeEnvironmentOrder=[{"order": 1, "computeEnvironment": stack["ce"]}])[
        "jobQueueArn"]
    run_id = "chaos-20261126T000000Z-bbbbbb"
    name = f"spotkit-chaos-probe-{run_id}"
    moved = batch.submit_job(jobName=name, jobQueue=fallback, jobDefinition=stack["jd"])["jobId"]
    writer = statelib.StateWriter(statelib.ChaosState(run_id, "local", "fis-spot-interruption"), dirs["state_path"])
    writer.add_undo("terminate-jobs", job_ids=[], job_queue=stack["queue"], job_names=[name],
                    fallback_job_queue=fallback)
    result = rollback(state_path=dirs["state_path"], client_factory=client)
    assert result["status"] == "rolled-back" and result["jobs_terminated"] == [moved]


def test_the_runner_records_the_fallback_queue_in_its_terminate_jobs_entry(stack, dirs):
    od = "arn:aws:batch:us-east-1:123456789012:job-queue/od"
    outputs = {**stack["outputs"], "resubmit_fallback_job_queue_arn": od}
    r = runner(stack, dirs, DataPlane(stack), outputs=outputs)
    seen = []

    def factory(service):
        c = r.calls.factory(service)
        if service == "fis":
            c.meta.events.register("provide-client-params.fis.CreateExperimentTemplate",
                                   lambda params, **kw: seen.append(statelib.read_state(dirs["state_path"])))
        return c

    r._client_factory = factory
    r.run()
    assert seen[0].undo[0]["fallback_job_queue"] == outputs["resubmit_fallback_job_queue_arn"]


class _FakeFis:
    def __init__(self, status, stop_error=None):
        self.status, self.stop_error, self.stops = status, stop_error, 0

    def get_experiment(self, id):  # noqa: A002
        return {"experiment": {"id": id, "state": {"status": self.status}}}

    def stop_experiment(self, id):  # noqa: A002
        from botocore.exceptions import ClientError

        self.stops += 1
        if self.stop_error:
            raise ClientError({"Error": {"Code": self.stop_error, "Message": "x"}}, "StopExperiment")
        self.status = "stopping"
        return {}


@pytest.mark.parametrize("status", ["stopping", "stopped", "completed", "failed", "cancelled"])
def test_stop_experiment_undo_is_idempotent_on_a_stopping_or_finished_experiment(status):
    fis = _FakeFis(status, stop_error="ConflictException")
    ok, detail = fis_method.stop_experiment({"experiment_id": "EXP1", "run_id": "r"}, lambda s: fis)
    assert ok, detail
    assert fis.stops == 0 and status in detail


def test_stop_experiment_conflict_on_a_race_with_completion_is_done():
    fis = _FakeFis("running", stop_error="ConflictException")

    def stop(id):  # noqa: A002 - it completed between GetExperiment and StopExperiment
        fis.status = "completed"
        raise __import__("botocore").exceptions.ClientError(
            {"Error": {"Code": "ConflictException", "Message": "x"}}, "StopExperiment")

    fis.stop_experiment = stop
    ok, detail = fis_method.stop_experiment({"experiment_id": "EXP1", "run_id": "r"}, lambda s: fis)
    assert ok and "completed" in detail


def _fis_ctx(stack, targets_count=6, calls=None):
    from spotkit.chaos.config import resolve_outputs
    from spotkit.chaos.journal import Journal

    ce = probes.describe_compute_environment(client("batch"), stack["ce"])
    writer = statelib.StateWriter(statelib.ChaosState("chaos-t", "local", fis_method.NAME),
                                  __import__("pathlib").Path(os.environ.get("TMPDIR", "/tmp")) / "unused-state.json")
    writer.save = lambda: None
    ctx = methods.MethodContext(config=ExperimentConfig(instances=targets_count),
                                outputs=resolve_outputs(stack["outputs"], "local"), ce=ce, run_id="chaos-t",
                                client=(calls or Calls()).factory, journal=Journal(lambda: 0.0, Console(quiet=True)),
                                state=writer)
    return ctx


def test_more_than_five_fis_targets_are_split_into_targets_and_actions_of_five(stack):
    from spotkit.emulator.fis import validate_template

    calls = Calls()
    ctx = _fis_ctx(stack, calls=calls)
    ids = [f"i-{n:017x}" for n in range(1, 13)]
    info = fis_method.inject(ctx, ids)
    (req,) = calls.params["CreateExperimentTemplate"]
    assert sorted(req["targets"]) == ["SpotInstances-1", "SpotInstances-2", "SpotInstances-3"]
    assert sorted(req["actions"]) == ["interrupt-1", "interrupt-2", "interrupt-3"]
    got = []
    for n in (1, 2, 3):
        action, target_ = req["actions"][f"interrupt-{n}"], req["targets"][f"SpotInstances-{n}"]
        assert action["targets"] == {"SpotInstances": f"SpotInstances-{n}"}
        assert action["parameters"] == {"durationBeforeInterruption": "PT2M"}
        assert len(target_["resourceArns"]) <= 5 and target_["selectionMode"] == "ALL"
        got += [a.rsplit("/", 1)[1] for a in target_["resourceArns"]]
    assert got == ids and len(info["resource_arns"]) == 12
    validate_template(req)  # the emulator (and FIS) accept several targets and actions
    with pytest.raises(Exception, match="at most 5"):
        six = ["arn:aws:ec2:us-east-1:1:instance/i-1"] * 6
        validate_template({**req, "targets": {"SpotInstances-1": {**req["targets"]["SpotInstances-1"],
                                                                  "resourceArns": six}}})


def test_dry_run_shows_the_fis_target_split(stack, dirs):
    client("ec2").modify_spot_fleet_request(SpotFleetRequestId=stack["fleet_id"], TargetCapacity=7)
    DataPlane(stack)
    r = runner(stack, dirs, dry_run=True, instances=7)
    out = r.run()
    assert len(out["plan"]["candidates"]) == 7
    assert any("2 targets + 2 actions" in a for a in out["plan"]["actions"]), out["plan"]["actions"]
    assert "2 targets + 2 actions" in progress(r)


def test_a_duplicate_resubmission_after_recovery_fails_the_run_in_the_settle_window(stack, dirs):
    plane = DataPlane(stack)
    r = runner(stack, dirs, plane, settle_seconds=10)
    seen = {"n": 0}

    def redeliver():  # the events queue redelivers the FAILED event after the visibility timeout
        if len(plane.resubmitted) == 1 and job(plane.resubmitted[0])["status"] == "RUNNING":
            seen["n"] += 1
            if seen["n"] == 3:
                plane._resubmit(plane.batch._jobs[r._probe_ids[0]])

    plane.on_step = redeliver
    report = r.run()
    assert len(plane.resubmitted) == 2
    assert report["passed"] is False and "duplicate" in report["failure_reason"], report["failure_reason"]
    assert not dirs["state_path"].exists()


def test_the_settle_window_is_a_cli_option():
    from spotkit.chaos.cli import spot_cmd

    opt = next(p for p in spot_cmd.params if p.name == "settle_seconds")
    assert opt.default == 10 and ExperimentConfig().settle_seconds == 10


def test_a_job_placed_on_a_target_after_target_selection_is_watched(stack, dirs):
    plane = DataPlane(stack)
    plane.fis_delay = 4  # FIS waits durationBeforeInterruption: Batch may place work on the target meanwhile
    r = runner(stack, dirs, plane)
    late = {}

    def place_late():
        if client("fis").list_experiments()["experiments"] and not late:
            target_ = r.report["targets"][0]["instance_id"]
            jid = client("batch").submit_job(jobName="late-arrival", jobQueue=stack["queue"],
                                             jobDefinition=stack["jd"], retryStrategy={"attempts": 1},
                                             containerOverrides={"command": ["sleep", "600"]})["jobId"]
            j = plane.batch._jobs[jid]
            j.host, j.ci_arn, j.status = target_, plane.registered[target_], "RUNNING"
            late["id"] = jid

    plane.on_step = place_late
    report = r.run()
    assert report["passed"], report["failure_reason"]
    tracked = {j["job_id"]: j for j in report["jobs"]}
    assert late["id"] in tracked and tracked[late["id"]]["recovery"] == "resubmitted"
    assert late["id"] in report["targets"][0]["jobs"]


def test_dry_run_reads_a_local_state_files_outputs_without_rendering_or_terraform(stack, dirs, monkeypatch, tmp_path):
    from spotkit import envs, paths, tf

    monkeypatch.setattr(paths, "STATE_DIR", tmp_path / "state")
    state_file = envs.load_environment("local").state_path()
    state_file.parent.mkdir(parents=True)
    state_file.write_text(json.dumps({"version": 4, "outputs": {
        k: {"value": v, "type": "string"} for k, v in stack["outputs"].items()}}))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    def forbidden(*a, **k):
        raise AssertionError("a dry run must not render the root or run terraform")

    monkeypatch.setattr(tf, "outputs", forbidden)
    monkeypatch.setattr(envs, "render", forbidden)
    DataPlane(stack)
    t = FakeTime()
    r = Runner(ExperimentConfig(dry_run=True), outputs=None, client_factory=Calls().factory, time_scale=1.0,
               clock=t.clock, sleep=t.sleep, console=Console(file=io.StringIO(), width=200), **dirs)
    out = r.run()
    assert out["refusals"] == [] and out["plan"]["compute_environment"]["name"] == "spotkit-ce"
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


# ---------------------------------------------------------------------------- --job-id: follow the job


def test_follow_refuses_fargate_finished_and_unplaced_jobs_in_multi_ce_queues(stack):
    from spotkit.chaos.follow import JobRefused, follow_job

    batch, ecs = client("batch"), client("ecs")
    with pytest.raises(JobRefused, match="no such job"):
        follow_job(batch, ecs, "0f0e0d0c-0000-4000-8000-000000000000")
    fargate_jd = batch.register_job_definition(
        jobDefinitionName="fargate-jd", type="container", platformCapabilities=["FARGATE"],
        containerProperties={"image": "busybox", "command": ["true"], "executionRoleArn": "arn:aws:iam::1:role/x",
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "2048"}]})["jobDefinitionArn"]
    sg = client("ec2").describe_security_groups()["SecurityGroups"][0]["GroupId"]
    subnet = client("ec2").describe_subnets()["Subnets"][0]["SubnetId"]
    fargate_ce = batch.create_compute_environment(
        computeEnvironmentName="fargate-ce", type="MANAGED", state="ENABLED",
        serviceRole=client("iam").get_role(RoleName="batch")["Role"]["Arn"],
        computeResources={"type": "FARGATE", "maxvCpus": 4, "subnets": [subnet], "securityGroupIds": [sg]})[
        "computeEnvironmentArn"]
    fargate_queue = batch.create_job_queue(jobQueueName="fargate-q", state="ENABLED", priority=1,
                                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": fargate_ce}])[
        "jobQueueArn"]
    on_fargate = batch.submit_job(jobName="ff", jobQueue=fargate_queue, jobDefinition=fargate_jd)["jobId"]
    with pytest.raises(JobRefused, match="only on Fargate .fargate-ce FARGATE.: there is no EC2 instance"):
        follow_job(batch, ecs, on_fargate)
    done = batch.submit_job(jobName="dd", jobQueue=stack["queue"], jobDefinition=stack["jd"])["jobId"]
    batch.terminate_job(jobId=done, reason="test")
    batch_models.batch_backends[ACCOUNT][REGION].get_job_by_id(done).status = "FAILED"
    with pytest.raises(JobRefused, match="is FAILED"):
        follow_job(batch, ecs, done)
    # Not placed yet: one CE is that CE; two CEs cannot be told apart yet.
    queued = batch.submit_job(jobName="qq", jobQueue=stack["queue"], jobDefinition=stack["jd"])["jobId"]
    followed = follow_job(batch, ecs, queued)
    assert followed.compute_environment.arn == stack["ce"] and followed.instance_id is None
    second = make_ce(name="second-ce", strategy="SPOT_CAPACITY_OPTIMIZED")
    two = batch.create_job_queue(jobQueueName="two-ces", state="ENABLED", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": stack["ce"]}, {"order": 2, "computeEnvironment": second}])["jobQueueArn"]
    unplaced = batch.submit_job(jobName="uu", jobQueue=two, jobDefinition=stack["jd"])["jobId"]
    with pytest.raises(JobRefused, match="2 compute environments"):
        follow_job(batch, ecs, unplaced)


def test_follow_finds_the_ce_whose_cluster_holds_the_jobs_container_instance(stack):
    from spotkit.chaos.follow import follow_job

    batch = client("batch")
    other = make_ce(name="other-ce", strategy="SPOT_CAPACITY_OPTIMIZED")
    queue = batch.create_job_queue(jobQueueName="both", state="ENABLED", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": other}, {"order": 2, "computeEnvironment": stack["ce"]}])["jobQueueArn"]
    plane = DataPlane(stack)  # registers hosts in stack["ce"]'s cluster
    other_cluster = batch.describe_compute_environments(computeEnvironments=[other])["computeEnvironments"][0][
        "ecsClusterArn"]
    lone = client("ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    plane.ecs.register_container_instance(other_cluster, lone)  # (plain moto 500s on a cluster without any)
    jid = batch.submit_job(jobName="jj", jobQueue=queue, jobDefinition=stack["jd"])["jobId"]
    plane.step()
    followed = follow_job(batch, client("ecs"), jid)
    assert followed.compute_environment.arn == stack["ce"] and followed.instance_id in plane.registered
    assert [c.arn for c in followed.queue_compute_environments] == [other, stack["ce"]]


def test_resubmission_is_provable_only_for_queues_the_rule_watches(stack):
    events = client("events")
    kit, foreign = stack["queue"], "arn:aws:batch:us-east-1:123456789012:job-queue/team"
    events.put_rule(Name="resubmit", EventPattern=json.dumps({
        "source": ["aws.batch"], "detail-type": ["Batch Job State Change"],
        "detail": {"status": ["FAILED"], "jobQueue": [kit]}}))
    assert probes.resubmission_refusal(events, "resubmit", kit, [kit]) is None
    assert "watches only job queue(s)" in probes.resubmission_refusal(events, "resubmit", foreign, [kit])
    events.put_rule(Name="every-queue", EventPattern=json.dumps({"source": ["aws.batch"],
                                                                 "detail": {"status": ["FAILED"]}}))
    assert probes.resubmission_refusal(events, "every-queue", kit, [kit]) is None
    assert "may submit only" in probes.resubmission_refusal(events, "every-queue", foreign, [kit])
    assert "does not exist" in probes.resubmission_refusal(events, "gone", kit, [kit])
    events.disable_rule(Name="resubmit")
    assert "DISABLED" in probes.resubmission_refusal(events, "resubmit", kit, [kit])
    assert probes.resubmission_refusal(events, None, kit, [kit]) is None
    assert "no resubmit_rule_name output" in probes.resubmission_refusal(events, None, foreign, [kit])


def test_native_retry_refusal_counts_the_attempts_left(stack):
    from spotkit.chaos.follow import FollowedJob, retry_refusal
    from spotkit.emulator.retry import should_retry

    def followed(strategy, attempts_made):
        return FollowedJob(job_id="j", detail={"retryStrategy": strategy, "attempts": [{}] * attempts_made},
                           job_queue="q", job_definition="d", compute_environment=None, instance_id="i-1")

    host = {"attempts": 2, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"}]}
    assert retry_refusal(followed(host, 0), should_retry) is None
    assert "attempts=2 and this is attempt 2" in retry_refusal(followed(host, 1), should_retry)
    assert "attempts=1" in retry_refusal(followed({}, 0), should_retry)
    exits = {"attempts": 3, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "EXIT"}]}
    assert "EXITs" in retry_refusal(followed(exits, 0), should_retry)
