"""``spotkit chaos`` against an emulator process (real Spot Fleet, Batch and FIS data planes).

* the FIS method end to end: a run-scoped template, the warning, the interruption, the job retried
  natively and RUNNING again, the template deleted;
* a run SIGKILLed right after its injection (no finally, no signal handler) is rolled back by
  :func:`spotkit.chaos.rollback.rollback` from the state file: the FIS experiment stopped before it
  interrupted anything and its template deleted, or the Spot Fleet capacity restored; the probe
  jobs terminated either way.

The runner runs in a subprocess exactly as ``spotkit chaos spot`` builds it, pointed at the emulator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
from conftest import emulator_clients, emulator_process, wait_for

pytestmark = pytest.mark.integration  # starts an emulator process

SERVICES = ("fis", "ec2", "iam", "batch", "ecs", "cloudwatch", "lambda")
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "fis.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
FIS_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ec2:SendSpotInstanceInterruptions", "ec2:TerminateInstances",
                                   "ec2:DescribeInstances"], "Resource": "*"}]})
FIS_TIME_SCALE = 0.025

#: The subprocess: a Runner built from a JSON config, against the emulator endpoint.
CHILD = r"""
import json, os, sys
import boto3
from rich.console import Console
from spotkit.chaos.config import ExperimentConfig
from spotkit.chaos.runner import Runner, emulator_time_scale

a = json.loads(os.environ["CHAOS_ARGS"])
if a.get("hold_phase"):
    # test instrumentation: stay in this phase for a while, so the parent can kill the run inside it
    # (the fleet-capacity cut lasts only until the target instance is gone: milliseconds here)
    import time
    from spotkit.chaos import state as statelib
    _set_phase = statelib.StateWriter.set_phase

    def set_phase(self, phase, **extra):
        _set_phase(self, phase, **extra)
        if phase == a["hold_phase"]:
            time.sleep(60)

    statelib.StateWriter.set_phase = set_phase
kw = dict(endpoint_url=a["endpoint"], region_name="us-east-1", aws_access_key_id="testing",
          aws_secret_access_key="testing")
report = Runner(ExperimentConfig(**a["config"]), outputs=a["outputs"],
                client_factory=lambda s: boto3.client(s, **kw), time_scale=emulator_time_scale(a["endpoint"]),
                console=Console(file=sys.stderr, width=200), state_path=a["state_path"],
                reports_dir=a["reports_dir"]).run()
sys.exit(0 if report.get("passed") else 1)
"""


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with emulator_process(tmp_path_factory.mktemp("chaos"), "--tick", "0.1", "--dwell-seconds", "0.2",
                          "--scale-delay-seconds", "0.3", "--boot-seconds", "0.3", "--idle-seconds", "60",
                          "--fis-time-scale", str(FIS_TIME_SCALE)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def aws(emulator):
    return emulator_clients(emulator.endpoint, SERVICES)


@pytest.fixture
def stack(aws):
    """A fresh BEST_FIT Spot compute environment (CE and instances tagged spotkit:chaos=opt-in), its
    queue, a job definition retrying host losses natively, and the FIS spot-interruption template."""
    ec2, iam, batch = aws["ec2"], aws["iam"], aws["batch"]
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=_name("batch"), Description="batch", VpcId=vpc)["GroupId"]
    service = iam.create_role(RoleName=_name("svc"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fleet_role = iam.create_role(RoleName=_name("fleet"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=_name("ecs"))["InstanceProfile"]["Arn"]
    opt_in = {"spotkit:chaos": "opt-in"}
    ce = batch.create_compute_environment(
        computeEnvironmentName=_name("ce"), type="MANAGED", state="ENABLED", serviceRole=service, tags=opt_in,
        computeResources={"type": "SPOT", "allocationStrategy": "BEST_FIT", "minvCpus": 0, "maxvCpus": 4,
                          "instanceTypes": ["m5.large"], "subnets": [subnet], "securityGroupIds": [sg],
                          "instanceRole": profile, "spotIamFleetRole": fleet_role, "tags": opt_in},
    )["computeEnvironmentArn"]
    queue = batch.create_job_queue(jobQueueName=_name("q"), state="ENABLED", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    jd = batch.register_job_definition(
        jobDefinitionName=_name("jd"), type="container",
        containerProperties={"image": "busybox", "command": ["sleep", "60"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "512"}]},
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"},
                                                         {"onReason": "*", "action": "EXIT"}]},
    )["jobDefinitionArn"]
    role_name = _name("fis")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="fis", PolicyDocument=FIS_POLICY)

    def template(duration):
        return aws["fis"].create_experiment_template(
            description="spotkit spot interruption", roleArn=role, stopConditions=[{"source": "none"}],
            targets={"SpotInstances": {"resourceType": "aws:ec2:spot-instance", "resourceTags": opt_in,
                                       "filters": [{"path": "State.Name", "values": ["running"]}],
                                       "selectionMode": "COUNT(1)"}},
            actions={"interrupt": {"actionId": "aws:ec2:send-spot-instance-interruptions",
                                   "parameters": {"durationBeforeInterruption": duration},
                                   "targets": {"SpotInstances": "SpotInstances"}}},
        )["experimentTemplate"]["id"]

    outputs = {"job_queue_arn": queue, "job_definition_arn": jd, "compute_environment_arn": ce,
               "chaos_fis_role_arn": role, "chaos_opt_in_tag": opt_in}
    return {"outputs": outputs, "ce": ce, "queue": queue, "template": template}


def _child(emulator, tmp_path, outputs, hold_phase=None, **config):
    args = {"endpoint": emulator.endpoint, "outputs": outputs, "state_path": str(tmp_path / "chaos-state.json"),
            "reports_dir": str(tmp_path / "reports"), "hold_phase": hold_phase,
            "config": {"poll_interval": 0.2, "timeout": 90, "probe_seconds": 300, **config}}
    return subprocess.Popen([sys.executable, "-c", CHILD], env={**os.environ, "CHAOS_ARGS": json.dumps(args)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _client_factory(aws):
    return lambda service: aws[service]


def _state(aws, instance_id):
    return aws["ec2"].describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


def test_fis_method_end_to_end_native_retry(emulator, aws, stack, tmp_path):
    outputs = {**stack["outputs"], "chaos_spot_interruption_template_id": stack["template"]("PT2M")}
    proc = _child(emulator, tmp_path, outputs, native_retry=True)
    out, err = proc.communicate(timeout=180)
    report = json.loads((tmp_path / "reports" / "chaos-latest.json").read_text())
    assert proc.returncode == 0 and report["passed"], f"{report['failure_reason']}\n{err[-4000:]}"
    assert (report["method"], report["time_scale"]) == ("fis-spot-interruption", FIS_TIME_SCALE)
    assert f"FIS durations x{FIS_TIME_SCALE:g} on the emulator" in err
    inst = report["instance_id"]
    kinds = [(e["subject"], e["kind"]) for e in report["events"]]
    for expected in [(f"instance:{inst}", "injected"), (f"instance:{inst}", "warning"),
                     (f"instance:{inst}", "interrupted"), (f"job:{report['original_job_id']}", "retried"),
                     (f"job:{report['original_job_id']}", "RUNNING-again")]:
        assert expected in kinds, kinds
    assert report["observed_status_reason"] == f"Host EC2 (instance {inst}) terminated."
    # only the kit's template is left; no state file
    assert [t["id"] for t in aws["fis"].list_experiment_templates()["experimentTemplates"]
            if (t.get("tags") or {}).get("spotkit:chaos-run") == report["run_id"]] == []
    assert not (tmp_path / "chaos-state.json").exists()


@pytest.mark.parametrize("method", ["fis-spot-interruption", "fleet-capacity"])
def test_a_run_sigkilled_after_its_injection_is_rolled_back_from_the_state_file(emulator, aws, stack, tmp_path,
                                                                                method):
    from spotkit.chaos import state as statelib
    from spotkit.chaos.fleet import target_capacity
    from spotkit.chaos.rollback import rollback

    # PT15M x 0.025 = 22.5 s between the warning and the interruption: the kill lands in between.
    outputs = {**stack["outputs"], "chaos_spot_interruption_template_id": stack["template"]("PT15M")}
    state_path = tmp_path / "chaos-state.json"
    phase = "fis-experiment-started" if method == "fis-spot-interruption" else statelib.PHASE_CUT
    # the FIS warning window (22.5 s) holds the run by itself; the capacity cut needs the child held
    proc = _child(emulator, tmp_path, outputs, method=method,
                  hold_phase=None if method == "fis-spot-interruption" else phase)
    try:
        def at_phase():
            if proc.poll() is not None:  # the run ended before the kill: say why, do not wait on
                raise AssertionError(f"the chaos run exited {proc.returncode} before {phase}:\n"
                                     f"{proc.stderr.read()[-4000:]}")
            s = statelib.read_state(state_path) if state_path.exists() else None
            return s if s and s.phase == phase else None

        # generous: on a loaded 2-core machine the child's probe job can take a while to run
        st = wait_for(f"the state file at {phase}", at_phase, timeout=180, interval=0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # a crash: no finally, no signal handler runs
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert not (tmp_path / "reports").exists()  # it never got to write a report
    probe_ids = st.entry("terminate-jobs")["job_ids"]
    assert probe_ids

    result = rollback(state_path=state_path, client_factory=_client_factory(aws), poll_interval=0.2)
    assert result["status"] == "rolled-back", result
    assert not state_path.exists()
    assert set(probe_ids) <= set(result["jobs_terminated"]) or all(
        aws["batch"].describe_jobs(jobs=[j])["jobs"][0]["status"] == "FAILED" for j in probe_ids)
    if method == "fis-spot-interruption":
        assert [r["kind"] for r in result["results"]] == ["stop-fis-experiment", "delete-fis-template",
                                                          "terminate-jobs"]
        eid, tid = st.extra["fis_experiment_id"], st.extra["fis_template_id"]
        status = aws["fis"].get_experiment(id=eid)["experiment"]["state"]["status"]
        assert status in ("stopping", "stopped")
        assert tid not in [t["id"] for t in aws["fis"].list_experiment_templates()["experimentTemplates"]]
        # stopped during the warning window: the target was never interrupted
        (target,) = [t["targetInformation"]["arn"].rsplit("/", 1)[-1] for t in
                     aws["fis"].list_experiment_resolved_targets(experimentId=eid)["resolvedTargets"]]
        assert _state(aws, target) == "running"
    else:
        assert [r["kind"] for r in result["results"]] == ["restore-fleet-capacity", "terminate-jobs"]
        assert target_capacity(aws["ec2"], st.extra["fleet_request_id"]) == st.extra["original_target_capacity"]
    assert rollback(state_path=state_path, client_factory=_client_factory(aws))["status"] == "nothing-to-roll-back"


def test_terminate_instance_on_every_instance_brings_back_plain_and_array_probes(emulator, aws, stack, tmp_path):
    proc = _child(emulator, tmp_path, stack["outputs"], method="terminate-instance", native_retry=True,
                  jobs=1, array_size=3, percent=100)
    out, err = proc.communicate(timeout=180)
    report = json.loads((tmp_path / "reports" / "chaos-latest.json").read_text())
    assert proc.returncode == 0 and report["passed"], f"{report['failure_reason']}\n{err[-4000:]}"
    jobs = {j["job_id"]: j for j in report["jobs"]}
    assert len(jobs) == 4 and sum(":" in j for j in jobs) == 3  # the plain probe and the three children
    assert all(j["recovery"] == "native-retry" and j["passed"] for j in jobs.values())
    assert {t["instance_id"] for t in report["targets"]} == {j["instance_id"] for j in jobs.values()}
    assert report["time_scale"] == FIS_TIME_SCALE  # the emulator's FIS factor, stated whatever the method
