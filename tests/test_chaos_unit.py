"""spotkit chaos: the Spot capacity-cut experiment against moto.

Plain moto has the control plane (Batch, ECS, EC2 Spot Fleet) but no data plane: jobs never get a
container instance and nothing fails when a host goes away. ``DataPlane`` below is a small test
double for that missing part (the lead's emulator is the real one): it places jobs on Spot Fleet
instances registered as ECS container instances, fails a job whose host was terminated with
``Host EC2 (instance i-...) terminated.``, retries it natively when told to, and can play the
resubmission Lambda. Everything the experiment itself does goes through real boto3 calls to moto.
"""

from __future__ import annotations

import io
import json

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws
from moto.batch import models as batch_models
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ecs.models import ecs_backends
from rich.console import Console
from spotkit.chaos import fleet as fleetlib
from spotkit.chaos import state as statelib
from spotkit.chaos.experiment import (
    TAG_CHAOS_RUN,
    TAG_LINEAGE,
    ChaosUsageError,
    ExperimentConfig,
    SpotExperiment,
    host_terminated_instance,
)
from spotkit.chaos.rollback import rollback

REGION = "us-east-1"
AMI = "ami-12c6146b"


def client(service):
    return boto3.client(service, region_name=REGION)


@pytest.fixture
def aws(monkeypatch):
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
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
    return ec2.request_spot_fleet(
        SpotFleetRequestConfig={
            "TargetCapacity": capacity,
            "IamFleetRole": "arn:aws:iam::123456789012:role/fleet",
            "AllocationStrategy": "lowestPrice",
            "Type": "maintain",
            "LaunchSpecifications": [{"ImageId": AMI, "InstanceType": "m5.large"}],
        }
    )["SpotFleetRequestId"]


def target(fleet_id):
    return fleetlib.target_capacity(client("ec2"), fleet_id)


@pytest.fixture
def stack(aws):
    """A Batch SPOT compute environment, job queue and job definition, plus a maintain Spot Fleet."""
    iam, ec2, batch = client("iam"), client("ec2"), client("batch")
    role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName="batch")["InstanceProfile"]["Arn"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
    ce = batch.create_compute_environment(
        computeEnvironmentName="spotkit-ce",
        type="MANAGED",
        state="ENABLED",
        serviceRole=role,
        computeResources={
            "type": "SPOT",
            "allocationStrategy": "BEST_FIT",
            "minvCpus": 0,
            "maxvCpus": 16,
            "desiredvCpus": 0,
            "instanceTypes": ["m5.large"],
            "subnets": [subnet],
            "securityGroupIds": [sg],
            "instanceRole": profile,
            "spotIamFleetRole": role,
        },
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(
        jobQueueName="spotkit-queue",
        state="ENABLED",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}],
    )["jobQueueArn"]
    jd = batch.register_job_definition(
        jobDefinitionName="spotkit-jd",
        type="container",
        containerProperties={"image": "busybox", "vcpus": 1, "memory": 512, "command": ["true"]},
        retryStrategy={
            "attempts": 3,
            "evaluateOnExit": [
                {"onStatusReason": "Host EC2*", "action": "RETRY"},
                {"onReason": "*", "action": "EXIT"},
            ],
        },
    )["jobDefinitionArn"]
    cluster = batch.describe_compute_environments(computeEnvironments=[ce])["computeEnvironments"][0][
        "ecsClusterArn"
    ]
    fleet_id = request_fleet(ec2)
    outputs = {
        "job_queue_arn": queue,
        "job_queue_name": "spotkit-queue",
        "job_definition_arn": jd,
        "job_definition_name": "spotkit-jd",
        "compute_environment_arn": ce,
        "compute_environment_name": "spotkit-ce",
    }
    return {"outputs": outputs, "fleet_id": fleet_id, "cluster": cluster, "queue": queue}


class DataPlane:
    """Test double for the Batch-on-Spot data plane (see module docstring). Call :meth:`step`."""

    def __init__(self, fleet_id, cluster, *, run=True, attempts=1, lambda_resubmit=True, tag_instances=True):
        self.fleet_id, self.cluster = fleet_id, cluster
        self.run, self.attempts, self.lambda_resubmit, self.tag_instances = (
            run,
            attempts,
            lambda_resubmit,
            tag_instances,
        )
        self.batch = batch_models.batch_backends[DEFAULT_ACCOUNT_ID][REGION]
        self.ec2 = ec2_backends[DEFAULT_ACCOUNT_ID][REGION]
        self.ecs = ecs_backends[DEFAULT_ACCOUNT_ID][REGION]
        self.resubmitted = []
        self.on_step = None

    def _host(self):
        running = [
            sr.instance.id
            for sr in self.ec2.describe_spot_fleet_instances(self.fleet_id)
            if sr.instance.state == "running"
        ]
        if not running and self.ec2.get_spot_fleet_request(self.fleet_id).target_capacity > 0:
            # moto does not relaunch after a restore; stand in for the fleet replacing capacity.
            running = [
                client("ec2").run_instances(ImageId=AMI, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
            ]
        if running and self.tag_instances:
            self.ec2.create_tags([running[0]], {fleetlib.FLEET_TAG: self.fleet_id})
        return running[0] if running else None

    def step(self):
        if self.on_step:
            self.on_step()
        for job in list(self.batch._jobs.values()):
            status = job.status
            if status in ("SUBMITTED", "PENDING", "RUNNABLE") and self.run:
                host = self._host()
                if host:
                    ci = self.ecs.register_container_instance(self.cluster, host)
                    job.ci_arn, job.host = ci.container_instance_arn, host
                    job.status = "RUNNING"
            elif status == "RUNNING" and self.ec2.get_instance(job.host).state == "terminated":
                reason = f"Host EC2 (instance {job.host}) terminated."
                job.attempts.append(
                    {"container": {"containerInstanceArn": job.ci_arn}, "statusReason": reason}
                )
                if len(job.attempts) < self.attempts:
                    job.status = "RUNNABLE"
                    continue
                job.status, job.job_stopped_reason, job.job_stopped = "FAILED", reason, True
                if self.lambda_resubmit:
                    self._resubmit(job)

    def _resubmit(self, job):
        tags = self.batch.list_tags_for_resource(job.arn)
        new = client("batch").submit_job(
            jobName=job.job_name,
            jobQueue=job.job_queue.arn,
            jobDefinition=job.job_definition.arn,
            containerOverrides={"command": job.container_overrides["command"]},
            retryStrategy={"attempts": 1},
            **({"timeout": job.timeout} if job.timeout else {}),
            tags={**tags, TAG_LINEAGE: f"count=1 original={job.job_id} previous={job.job_id}"},
        )
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


def experiment(stack, dirs, plane=None, submit_params=None, **cfg):
    t = FakeTime(plane)
    clients = {}

    def factory(service):
        if service not in clients:
            clients[service] = client(service)
            if service == "batch" and submit_params is not None:
                clients[service].meta.events.register(
                    "provide-client-params.batch.SubmitJob",
                    lambda params, **kw: submit_params.append(dict(params)),
                )
        return clients[service]

    cfg.setdefault("timeout", 30)
    cfg.setdefault("poll_interval", 1)
    return SpotExperiment(
        ExperimentConfig(**cfg),
        outputs=stack["outputs"],
        client_factory=factory,
        clock=t.clock,
        sleep=t.sleep,
        console=Console(file=io.StringIO(), width=200),
        **dirs,
    )


def job(job_id):
    return client("batch").describe_jobs(jobs=[job_id])["jobs"][0]


# ---------------------------------------------------------------------------- pure helpers


def test_host_terminated_instance_parses_batch_status_reason():
    assert (
        host_terminated_instance("Host EC2 (instance i-04b17daec78ef4a0b) terminated.")
        == "i-04b17daec78ef4a0b"
    )
    assert host_terminated_instance("Essential container in task exited") is None
    assert host_terminated_instance("Your Spot Task was interrupted.") is None
    assert host_terminated_instance(None) is None


# ---------------------------------------------------------------------------- refusals


def test_prod_is_refused_without_consent_and_nothing_is_touched(dirs):
    def no_aws(service):
        raise AssertionError(f"no AWS call expected, got a {service} client")

    exp = SpotExperiment(
        ExperimentConfig(env="prod"), outputs={}, client_factory=no_aws, console=Console(quiet=True), **dirs
    )
    with pytest.raises(ChaosUsageError, match="--i-know-this-is-prod"):
        exp.run()
    assert not dirs["state_path"].exists()
    assert not dirs["reports_dir"].exists()


def test_leftover_state_file_is_refused(dirs):
    statelib.write_state(
        statelib.ChaosState("chaos-old", "local", "sfr-1", 2, "i-1", "job-1"), dirs["state_path"]
    )
    exp = SpotExperiment(
        ExperimentConfig(), outputs={}, client_factory=client, console=Console(quiet=True), **dirs
    )
    with pytest.raises(ChaosUsageError, match="spotkit chaos rollback"):
        exp.run()


def test_cli_prod_refusal_exits_2():
    res = CliRunner().invoke(_chaos_group(), ["spot", "--env", "prod"])
    assert res.exit_code == 2
    assert "--i-know-this-is-prod" in res.output


def _chaos_group():
    from spotkit.chaos.cli import chaos_group

    return chaos_group


# ---------------------------------------------------------------------------- fleet lookup, action, undo


def test_instance_to_fleet_by_tag_and_by_describe_spot_fleet_instances(aws):
    ec2 = client("ec2")
    fleet_id = request_fleet(ec2)
    other = request_fleet(ec2, capacity=1)
    members = fleetlib.fleet_instances(ec2, fleet_id)
    assert len(members) == 2
    # moto adds no aws:ec2spot:fleet-request-id tag: found by scanning the active requests
    info = fleetlib.fleet_of_instance(ec2, members[1])
    assert (info.fleet_request_id, info.found_by, info.target_capacity, info.fleet_type) == (
        fleet_id,
        "describe_spot_fleet_instances",
        2,
        "maintain",
    )
    # the tag wins when present (as on AWS)
    ec2.create_tags(Resources=[members[0]], Tags=[{"Key": fleetlib.FLEET_TAG, "Value": other}])
    info = fleetlib.fleet_of_instance(ec2, members[0])
    assert (info.fleet_request_id, info.found_by, info.target_capacity) == (other, "tag", 1)


def test_instance_outside_any_fleet_names_its_auto_scaling_group(aws):
    ec2 = client("ec2")
    request_fleet(ec2)
    iid = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": fleetlib.ASG_TAG, "Value": "batch-asg"}]}
        ],
    )["Instances"][0]["InstanceId"]
    with pytest.raises(fleetlib.FleetLookupError, match="Auto Scaling group 'batch-asg'"):
        fleetlib.fleet_of_instance(ec2, iid)


def test_cut_terminates_fleet_instances_and_restore_is_idempotent(aws):
    ec2 = client("ec2")
    fleet_id = request_fleet(ec2)
    members = fleetlib.fleet_instances(ec2, fleet_id)
    fleetlib.cut_capacity(ec2, fleet_id)
    assert target(fleet_id) == 0
    states = [
        i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=members)["Reservations"]
        for i in r["Instances"]
    ]
    assert states == ["terminated", "terminated"]
    res = fleetlib.restore_capacity(ec2, fleet_id, 2, sleep=lambda s: None)
    assert (res.restored, res.detail, target(fleet_id)) == (True, "restored", 2)
    again = fleetlib.restore_capacity(ec2, fleet_id, 2, sleep=lambda s: None)
    assert (again.restored, again.detail) == (True, "already at target")
    gone = fleetlib.restore_capacity(ec2, "sfr-00000000000000000", 2, sleep=lambda s: None)
    assert (gone.restored, gone.detail) == (False, "fleet request gone")


# ---------------------------------------------------------------------------- rollback command


def test_rollback_restores_capacity_from_state_file_then_has_nothing_to_do(aws, dirs):
    ec2, batch = client("ec2"), client("batch")
    fleet_id = request_fleet(ec2, capacity=3)
    fleetlib.cut_capacity(ec2, fleet_id)
    st = statelib.ChaosState("chaos-x", "local", fleet_id, 3, "i-0", "job-0", phase=statelib.PHASE_CUT)
    statelib.write_state(st, dirs["state_path"])

    with pytest.raises(Exception, match="pass --env local"):
        rollback("staging", state_path=dirs["state_path"], client_factory=client)
    assert target(fleet_id) == 0

    result = rollback("local", state_path=dirs["state_path"], client_factory=client, sleep=lambda s: None)
    assert result["status"] == "restored"
    assert target(fleet_id) == 3
    assert not dirs["state_path"].exists()
    assert rollback(state_path=dirs["state_path"], client_factory=client)["status"] == "nothing-to-roll-back"
    del batch


def test_rollback_when_fleet_request_is_gone_clears_state(aws, dirs):
    st = statelib.ChaosState("chaos-x", "local", "sfr-00000000000000000", 2, "i-0", "job-0")
    statelib.write_state(st, dirs["state_path"])
    result = rollback(state_path=dirs["state_path"], client_factory=client)
    assert result["status"] == "fleet-gone"
    assert not dirs["state_path"].exists()


def test_cli_rollback_without_state_says_nothing_to_roll_back(tmp_path, monkeypatch):
    from spotkit import paths

    monkeypatch.setattr(paths, "STATE_DIR", tmp_path)
    res = CliRunner().invoke(_chaos_group(), ["rollback"])
    assert res.exit_code == 0, res.output
    assert "nothing to roll back" in res.output


def test_unreadable_state_file_is_an_error(dirs):
    dirs["state_path"].parent.mkdir(parents=True)
    dirs["state_path"].write_text("{not json")
    with pytest.raises(statelib.StateFileError):
        statelib.read_state(dirs["state_path"])


# ---------------------------------------------------------------------------- the experiment


def test_resubmission_is_proven_end_to_end(stack, dirs):
    plane = DataPlane(stack["fleet_id"], stack["cluster"], attempts=1, lambda_resubmit=True)
    submitted = []
    exp = experiment(stack, dirs, plane, submit_params=submitted, probe_seconds=600)
    report = exp.run()

    assert report["passed"], report["failure_reason"]
    assert report["recovery"] == "resubmitted"
    assert report["recovered_job_id"] == plane.resubmitted[0] != report["original_job_id"]
    assert report["fleet_request_id"] == stack["fleet_id"]
    assert report["original_target_capacity"] == 2
    assert report["capacity_restored"] is True
    assert target(stack["fleet_id"]) == 2
    assert report["observed_status_reason"] == f"Host EC2 (instance {report['instance_id']}) terminated."
    assert 0 < report["seconds_to_failure"] <= report["seconds_to_recovery"] <= report["seconds_to_running"]
    assert [p["ok"] for p in report["steady_state"]["before"] + report["steady_state"]["after"]] == [True] * 4
    # the probe job: one attempt only (the Lambda must do the work), tagged with the run id
    probe = submitted[0]
    assert probe["retryStrategy"] == {"attempts": 1}
    assert probe["tags"] == {TAG_CHAOS_RUN: exp.run_id, "spotkit:chaos-owner": "spotkit"}
    assert probe["timeout"] == {"attemptDurationSeconds": 3600}
    assert probe["containerOverrides"]["command"] == ["sh", "-c", "echo spotkit chaos probe; sleep 600"]
    assert probe["jobQueue"] == stack["outputs"]["job_queue_arn"]
    # cleanup terminated what the experiment created; state file gone; report on disk
    assert job(report["recovered_job_id"])["statusReason"] == "spotkit chaos cleanup"
    assert not dirs["state_path"].exists()
    on_disk = json.loads((dirs["reports_dir"] / "chaos-latest.json").read_text())
    assert on_disk["passed"] is True and on_disk["run_id"] == exp.run_id
    assert (dirs["reports_dir"] / f"{exp.run_id}.json").exists()
    # progress went to the terminal, with state changes and elapsed seconds
    progress = exp.console.file.getvalue()
    assert f"job {report['original_job_id']}: SUBMITTED -> RUNNING" in progress
    assert "action: TargetCapacity 2 -> 0" in progress


@pytest.mark.parametrize(
    ("report", "code"),
    [
        ({"passed": True, "capacity_restored": True}, 0),
        ({"passed": False, "capacity_restored": True, "failure_reason": "timed out"}, 1),
        ({"passed": False, "capacity_restored": False, "failure_reason": "x"}, 3),
        ({"passed": False, "capacity_restored": True, "interrupted": "SIGTERM"}, 130),
    ],
)
def test_cli_exit_code_follows_the_report(monkeypatch, report, code):
    monkeypatch.setattr(SpotExperiment, "run", lambda self: dict(report, run_id="chaos-t"))
    res = CliRunner().invoke(_chaos_group(), ["spot", "--env", "local"])
    assert res.exit_code == code
    assert ("PASS" if report["passed"] else "FAIL") in res.output


def test_native_retry_is_proven_on_the_same_job(stack, dirs):
    plane = DataPlane(
        stack["fleet_id"], stack["cluster"], attempts=3, lambda_resubmit=False, tag_instances=False
    )
    submitted = []
    report = experiment(stack, dirs, plane, submit_params=submitted, native_retry=True).run()
    assert report["passed"], report["failure_reason"]
    assert report["recovery"] == "native-retry"
    assert report["recovered_job_id"] == report["original_job_id"]
    assert report["fleet_found_by"] == "describe_spot_fleet_instances"
    assert "retryStrategy" not in submitted[0]  # the job definition's retry strategy is what is proven
    assert len(job(report["original_job_id"])["attempts"]) == 1
    assert target(stack["fleet_id"]) == 2


def test_state_file_is_written_before_the_action(stack, dirs):
    plane = DataPlane(stack["fleet_id"], stack["cluster"])
    exp = experiment(stack, dirs, plane)
    seen = []

    def before_modify(params, **kwargs):
        if params["TargetCapacity"] == 0:
            seen.append(statelib.read_state(dirs["state_path"]))

    ec2 = exp.client("ec2")
    ec2.meta.events.register("provide-client-params.ec2.ModifySpotFleetRequest", before_modify)
    report = exp.run()
    assert report["passed"], report["failure_reason"]
    (st,) = seen
    assert (st.phase, st.fleet_request_id, st.original_target_capacity) == (
        statelib.PHASE_PENDING,
        stack["fleet_id"],
        2,
    )
    assert st.original_job_id == report["original_job_id"] and st.instance_id == report["instance_id"]
    assert st.created_job_ids == [report["original_job_id"]]
    assert not dirs["state_path"].exists()


def test_job_never_running_times_out_with_fail_report_and_capacity_untouched(stack, dirs):
    plane = DataPlane(stack["fleet_id"], stack["cluster"], run=False)
    report = experiment(stack, dirs, plane, timeout=10).run()
    assert report["passed"] is False
    assert "timed out after 10 s waiting for probe job" in report["failure_reason"]
    assert report["capacity_restored"] is None and report["fleet_request_id"] is None
    assert target(stack["fleet_id"]) == 2
    assert not dirs["state_path"].exists()
    assert job(report["original_job_id"])["statusReason"] == "spotkit chaos cleanup"
    on_disk = json.loads((dirs["reports_dir"] / "chaos-latest.json").read_text())
    assert on_disk["passed"] is False and on_disk["failure_reason"] == report["failure_reason"]


def test_missing_resubmission_fails_but_capacity_is_restored(stack, dirs):
    plane = DataPlane(stack["fleet_id"], stack["cluster"], lambda_resubmit=False)
    report = experiment(stack, dirs, plane, timeout=15).run()
    assert report["passed"] is False
    assert f"a job whose {TAG_LINEAGE} tag says previous=" in report["failure_reason"]
    assert report["seconds_to_failure"] is not None and report["recovered_job_id"] is None
    assert report["capacity_restored"] is True and target(stack["fleet_id"]) == 2
    assert not dirs["state_path"].exists()


def test_native_retry_in_lambda_mode_is_reported_as_not_exercising_the_lambda(stack, dirs):
    plane = DataPlane(stack["fleet_id"], stack["cluster"], attempts=3)  # ignores our attempts=1 override
    report = experiment(stack, dirs, plane).run()
    assert report["passed"] is False
    assert "resubmission Lambda was not exercised" in report["failure_reason"]
    assert target(stack["fleet_id"]) == 2


def test_interrupt_after_the_cut_still_restores_capacity(stack, dirs):
    plane = DataPlane(stack["fleet_id"], stack["cluster"], run=True)

    def interrupt_once_cut():
        if target(stack["fleet_id"]) == 0:
            plane.on_step = None
            raise KeyboardInterrupt

    plane.on_step = interrupt_once_cut
    report = experiment(stack, dirs, plane).run()
    assert report["passed"] is False
    assert report["interrupted"] == "SIGINT"
    assert report["capacity_restored"] is True
    assert target(stack["fleet_id"]) == 2
    assert not dirs["state_path"].exists()
    assert report["rollbacks"][0]["name"] == "restore-target-capacity"


def test_steady_state_deviation_stops_before_any_change(stack, dirs):
    client("batch").update_job_queue(jobQueue=stack["queue"], state="DISABLED")
    submitted = []
    report = experiment(
        stack, dirs, DataPlane(stack["fleet_id"], stack["cluster"]), submit_params=submitted
    ).run()
    assert report["passed"] is False
    assert "steady-state hypothesis not met before the method" in report["failure_reason"]
    probe = report["steady_state"]["before"][0]
    assert (probe["name"], probe["ok"]) == ("job-queue-valid-and-enabled", False)
    assert submitted == [] and target(stack["fleet_id"]) == 2


def test_adopted_job_is_proven_and_its_resubmission_left_running(stack, dirs):
    plane = DataPlane(stack["fleet_id"], stack["cluster"])
    mine = client("batch").submit_job(
        jobName="nightly-backtest",
        jobQueue=stack["queue"],
        jobDefinition=stack["outputs"]["job_definition_arn"],
        containerOverrides={"command": ["python", "backtest.py"]},
    )["jobId"]
    submitted = []
    report = experiment(stack, dirs, plane, submit_params=submitted, job_id=mine).run()
    assert report["passed"], report["failure_reason"]
    assert report["original_job_id"] == mine and submitted == []
    recovered = job(report["recovered_job_id"])
    assert recovered["status"] == "RUNNING"  # user work: not terminated by the cleanup
    assert recovered["container"]["command"] == ["python", "backtest.py"]


def test_adopting_a_finished_job_is_refused_without_report(stack, dirs):
    mine = client("batch").submit_job(
        jobName="done", jobQueue=stack["queue"], jobDefinition=stack["outputs"]["job_definition_arn"]
    )["jobId"]
    batch_models.batch_backends[DEFAULT_ACCOUNT_ID][REGION]._jobs[mine].status = "SUCCEEDED"
    with pytest.raises(ChaosUsageError, match="adopt an active job"):
        experiment(stack, dirs, job_id=mine).run()
    assert not dirs["reports_dir"].exists()
    assert target(stack["fleet_id"]) == 2


def test_sigterm_after_the_cut_restores_capacity_and_handlers(stack, dirs):
    import os
    import signal

    before = signal.getsignal(signal.SIGTERM)
    plane = DataPlane(stack["fleet_id"], stack["cluster"])

    def sigterm_once_cut():
        if target(stack["fleet_id"]) == 0:
            plane.on_step = None
            os.kill(os.getpid(), signal.SIGTERM)

    plane.on_step = sigterm_once_cut
    report = experiment(stack, dirs, plane).run()
    assert report["interrupted"] == "SIGTERM" and report["passed"] is False
    assert report["capacity_restored"] is True and target(stack["fleet_id"]) == 2
    assert not dirs["state_path"].exists()
    assert signal.getsignal(signal.SIGTERM) is before


def test_unreadable_outputs_refuse_before_any_change(aws, dirs):
    def outputs(env):
        raise RuntimeError("terraform output failed")

    exp = SpotExperiment(
        ExperimentConfig(), outputs=outputs, client_factory=client, console=Console(quiet=True), **dirs
    )
    with pytest.raises(ChaosUsageError, match="terraform output failed"):
        exp.run()
    exp = SpotExperiment(ExperimentConfig(), outputs={"job_queue_arn": "q"}, client_factory=client, **dirs)
    with pytest.raises(ChaosUsageError, match="neither job_definition_arn nor job_definition_name"):
        exp.run()
    assert not dirs["reports_dir"].exists()
