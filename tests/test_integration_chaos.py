"""End to end on the local emulator with real Terraform: apply, chaos (Lambda and native retry),
crash + rollback, destroy leaves nothing behind.

Runs the ``spotkit`` CLI exactly as a user does, against a copy of the kit's Terraform/functions
(``SPOTKIT_HOME``) and an emulator on a free port, so a developer's own emulator and state are
never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from conftest import free_port, wait_for
from spotkit import envs

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
SPOTKIT = [sys.executable, "-m", "spotkit.cli"]


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """A kit copy + an emulator on a free port; yields ``(run, env, clients)``; tears both down."""
    home = tmp_path_factory.mktemp("spotkit-home")
    for name in ("modules", "terraform", "functions", "settings.yaml"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, home / name, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*",
                                                                           "backend.tf", "providers.tf",
                                                                           "terraform.tfvars.json"))
        else:
            shutil.copy(src, home / name)
    port = free_port()
    env = {**os.environ, "SPOTKIT_HOME": str(home), "SPOTKIT_EMULATOR_PORT": str(port),
           "SPOTKIT_TOOLS": str(REPO / ".tools"), "NO_COLOR": "1", "COLUMNS": "200"}

    def run(*args, check=True, timeout=600):
        proc = subprocess.run([*SPOTKIT, *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"spotkit {' '.join(args)} exited {proc.returncode}\n"
                                 f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-6000:]}")
        return proc

    kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    clients = {name: boto3.client(name, **kw) for name in ("batch", "ec2", "ecs", "lambda", "sqs", "events",
                                                          "cloudwatch", "fis", "iam", "autoscaling",
                                                          "cloudformation")}
    run("local", "up")
    try:
        run("package")
        started = time.monotonic()
        run("tf", "apply", "--env", "local")
        print(f"\napply took {time.monotonic() - started:.1f} s")
        yield run, env, home, clients
    finally:
        run("local", "down", check=False)


def _report(home: Path) -> dict:
    return json.loads((home / "reports" / "chaos-latest.json").read_text())


def test_outputs_name_the_spot_queue_and_function(stage):
    run, _, _, clients = stage
    outputs = json.loads(run("tf", "outputs", "--env", "local").stdout)
    values = {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in outputs.items()}
    for name in ("job_queue_arn", "job_definition_arn", "compute_environment_arn", "resubmit_function_name"):
        assert values.get(name), f"missing output {name}"
    ce = clients["batch"].describe_compute_environments(
        computeEnvironments=[values["compute_environment_arn"]])["computeEnvironments"][0]
    assert ce["type"] == "MANAGED" and ce["computeResources"]["type"] == "SPOT"
    assert ce["computeResources"]["allocationStrategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
    # generated name (valid on hashicorp/aws 5.x and 6.x), the readable one in the Name tag
    assert ce["computeEnvironmentName"] == values["compute_environment_name"]
    assert ce["computeEnvironmentName"].startswith("terraform-")
    assert ce["tags"]["Name"] == values["compute_environment_readable_name"] == "spotkit-local-spot"
    queue = clients["batch"].describe_job_queues(jobQueues=[values["job_queue_arn"]])["jobQueues"][0]
    assert queue["computeEnvironmentOrder"] == [{"order": 0, "computeEnvironment": values["compute_environment_arn"]}]
    assert {(a["reason"], a["maxTimeSeconds"], a["action"], a["state"]) for a in queue["jobStateTimeLimitActions"]} == {
        ("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", 3600, "CANCEL", "RUNNABLE"),
        ("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", 600, "CANCEL", "RUNNABLE"),
        ("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", 600, "CANCEL", "RUNNABLE"),
    }
    fn = clients["lambda"].get_function(FunctionName=values["resubmit_function_name"])["Configuration"]
    assert fn["Handler"] == "app.handler" and fn["Runtime"] == "python3.13"


def _values(run) -> dict:
    outputs = json.loads(run("tf", "outputs", "--env", "local").stdout)
    return {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in outputs.items()}


def _queue_depth(sqs, url: str, settle_seconds: float = 10.0) -> int:
    """Messages visible + in flight; waits up to ``settle_seconds`` for an in-flight batch to be deleted."""
    deadline = time.monotonic() + settle_seconds
    while True:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        depth = int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])
        if depth == 0 or time.monotonic() >= deadline:
            return depth
        time.sleep(0.2)


def test_rule_feeds_the_events_queue_and_the_mapping_feeds_the_function(stage):
    run, _, _, clients = stage
    values = _values(run)
    sqs, fn_name = clients["sqs"], values["resubmit_function_name"]
    events_url, dlq_url = values["resubmit_events_queue_url"], values["resubmit_dlq_url"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # The rule's only target is the events queue (retry policy, DLQ); no Lambda target any more.
    targets = clients["events"].list_targets_by_rule(Rule=values["resubmit_rule_name"])["Targets"]
    assert [(t["Arn"], t["DeadLetterConfig"]["Arn"]) for t in targets] == [(events_arn, dlq_arn)]
    # The queue: KMS-encrypted, redrive to the DLQ after 5 receives, visibility >= 6 x the function timeout.
    attrs = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["All"])["Attributes"]
    assert attrs["KmsMasterKeyId"].startswith("arn:aws:kms:")
    assert json.loads(attrs["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}
    fn = clients["lambda"].get_function_configuration(FunctionName=fn_name)
    assert int(attrs["VisibilityTimeout"]) >= 6 * fn["Timeout"]
    # The mapping (native aws_lambda_event_source_mapping), with partial batch responses and the local settings.
    (esm,) = clients["lambda"].list_event_source_mappings(FunctionName=fn_name)["EventSourceMappings"]
    assert esm["UUID"] == values["resubmit_event_source_mapping_uuid"]
    assert (esm["EventSourceArn"], esm["State"], esm["FunctionResponseTypes"]) == (
        events_arn, "Enabled", ["ReportBatchItemFailures"])
    assert (esm["BatchSize"], esm["MaximumBatchingWindowInSeconds"], esm["ScalingConfig"]) == (
        10, 0, {"MaximumConcurrency": 5})
    # The function's contract: on-demand fallback queue, metrics dimension = function name.
    env = fn["Environment"]["Variables"]
    assert env["SPOTKIT_FALLBACK_JOB_QUEUE"] == values["on_demand_job_queue_arn"] == values[
        "resubmit_fallback_job_queue_arn"]
    assert env["SPOTKIT_FALLBACK_AFTER_LOSSES"] == "2"
    assert (env["POWERTOOLS_SERVICE_NAME"], env["POWERTOOLS_METRICS_NAMESPACE"]) == (fn_name, "spotkit")
    alarms = {a["AlarmName"]: a for a in clients["cloudwatch"].describe_alarms(
        AlarmNamePrefix=fn_name)["MetricAlarms"]}
    assert alarms[f"{fn_name}-budget-exhausted"]["Dimensions"] == [{"Name": "service", "Value": fn_name}]
    assert alarms[f"{fn_name}-dlq-not-empty"]["AlarmActions"] == [values["alert_topic_arn"]]


def test_a_second_plan_after_apply_has_no_changes(stage):
    """Idempotent apply: nothing in the emulator's answers makes Terraform see drift."""
    run = stage[0]
    proc = run("tf", "plan", "--env", "local", check=False)
    assert "No changes" in proc.stdout, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_a_replaced_compute_environment_takes_over_the_queue_before_the_old_one_goes(stage):
    """A change AWS cannot make in place (``-replace`` stands in for one): create_before_destroy
    builds the new compute environment under a new generated name, moves the job queue to it, then
    deletes the old one; the readable Name tag (and so the FIS targets) stays. The chaos tests
    below run on the replacement."""
    run, env, home, clients = stage
    before = _values(run)
    from spotkit import toolchain

    tc = toolchain.ensure(quiet=True)
    tf_env = {**env, **tc.env(),
              "TF_DATA_DIR": str(home / ".spotkit" / f"local-{env['SPOTKIT_EMULATOR_PORT']}" / "terraform-data")}
    address = "module.spotkit.module.compute.aws_batch_compute_environment.spot[0]"
    proc = subprocess.run([str(tc.terraform), "apply", "-auto-approve", "-input=false", "-no-color",
                           f"-replace={address}", "-var-file=terraform.tfvars.json"],
                          cwd=home / "terraform" / "local", env=tf_env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = proc.stdout
    assert "Plan: 1 to add, 1 to change, 1 to destroy." in out
    # order: the new one exists before the queue moves, the old one goes last
    moved = out.index("spot_queue.aws_batch_job_queue.this[0]: Modifications complete")
    assert out.index(f"{address}: Creation complete") < moved < out.index("Destruction complete")
    after = _values(run)
    assert after["compute_environment_name"] != before["compute_environment_name"]
    assert after["compute_environment_readable_name"] == before["compute_environment_readable_name"]
    batch = clients["batch"]
    (queue,) = batch.describe_job_queues(jobQueues=[after["job_queue_arn"]])["jobQueues"]
    assert [o["computeEnvironment"] for o in queue["computeEnvironmentOrder"]] == [after["compute_environment_arn"]]
    assert batch.describe_compute_environments(
        computeEnvironments=[before["compute_environment_name"]])["computeEnvironments"] == []
    (ce,) = batch.describe_compute_environments(computeEnvironments=[after["compute_environment_arn"]])[
        "computeEnvironments"]
    assert ce["tags"]["Name"] == "spotkit-local-spot" and ce["state"] == "ENABLED"
    assert "No changes" in run("tf", "plan", "--env", "local").stdout


CHAOS = ("chaos", "spot", "--env", "local", "--poll-interval", "0.5", "--timeout", "120", "--probe-seconds", "300")


def _fis_templates(clients) -> list:
    return clients["fis"].list_experiment_templates()["experimentTemplates"]


def test_chaos_spot_interrupts_through_fis_and_the_lambda_resubmits(stage):
    """The default: an FIS Spot interruption (warning, then interruption after PT2M x the emulator's
    time factor) on the Auto Scaling-backed Spot CE; the Lambda resubmits; the run-scoped FIS template
    is deleted; JSON, JUnit and HTML reports written."""
    run, _, home, clients = stage
    standing = {t["id"] for t in _fis_templates(clients)}
    assert len(standing) == 2, "Terraform's spot-interruption and terminate-instance templates"
    run(*CHAOS)
    report = _report(home)
    assert report["passed"] is True, report.get("failure_reason")
    assert report["method"] == "fis-spot-interruption" and report["recovery"] == "resubmitted"
    assert report["time_scale"] == 0.025  # `spotkit local up`'s FIS time factor, stated in the report
    assert report["aws_provider_version"] == envs.locked_aws_version(REPO / "terraform" / "local")
    (job,) = report["jobs"]
    assert job["passed"] and job["successors"] == 1 and job["recovered_job_id"] != job["job_id"]
    assert job["failure_reason"] == f"Host EC2 (instance {job['instance_id']}) terminated."
    kinds = [e["kind"] for e in report["events"] if e["subject"] == f"instance:{job['instance_id']}"]
    assert kinds.index("warning") < kinds.index("interrupted"), kinds
    assert 0 <= job["seconds_to_failure"] <= job["seconds_to_recovery"] <= job["seconds_to_running"]
    assert {t["id"] for t in _fis_templates(clients)} == standing, "the run-scoped template is deleted"
    assert not (home / ".spotkit" / "chaos-state.json").exists()
    for suffix in (".xml", ".html"):
        assert (home / "reports" / f"chaos-latest{suffix}").stat().st_size > 0
    # The FAILED event went through the events queue and was consumed; nothing was dead-lettered.
    values = _values(run)
    assert _queue_depth(clients["sqs"], values["resubmit_events_queue_url"]) == 0
    assert _queue_depth(clients["sqs"], values["resubmit_dlq_url"]) == 0


def test_chaos_spot_native_retry_is_a_new_attempt_of_the_same_job(stage):
    run, _, home, clients = stage
    run(*CHAOS, "--native-retry", "--keep-jobs")
    report = _report(home)
    assert report["passed"] is True and report["recovery"] == "native-retry"
    assert report["recovered_job_id"] == report["original_job_id"]
    job = clients["batch"].describe_jobs(jobs=[report["original_job_id"]])["jobs"][0]
    assert job["attempts"][0]["statusReason"] == f"Host EC2 (instance {report['instance_id']}) terminated."
    clients["batch"].terminate_job(jobId=job["jobId"], reason="test cleanup")


def test_three_instance_blast_brings_every_job_and_array_child_back_exactly_once(stage):
    """--instances 3 under 4 plain probe jobs and a 4-child array probe (1 vCPU each on 2-vCPU m5.large
    hosts): every job on the three interrupted instances fails on host loss and comes back exactly
    once, array children regrouped by the Lambda."""
    run, _, home, _ = stage
    run(*CHAOS, "--instances", "3", "--jobs", "4", "--array-size", "4", timeout=900)
    report = _report(home)
    assert report["passed"] is True, report.get("failure_reason")
    assert len(report["targets"]) == 3
    on_targets = {j for t in report["targets"] for j in t["jobs"]}
    assert {j["job_id"] for j in report["jobs"]} == on_targets and len(on_targets) >= 5
    assert any(j["array_index"] is not None for j in report["jobs"]), "array children were hit"
    assert all(j["passed"] and j["successors"] == 1 for j in report["jobs"])


def test_terminate_instance_method_is_proven_too(stage):
    run, _, home, _ = stage
    run(*CHAOS, "--method", "terminate-instance")
    report = _report(home)
    assert report["passed"] is True and report["method"] == "terminate-instance"
    kinds = {e["kind"] for e in report["events"] if e["subject"].startswith("instance:")}
    assert "interrupted" in kinds and "warning" not in kinds  # no notice: the blunt fallback


def test_fleet_capacity_is_refused_on_the_auto_scaling_ce_and_proven_on_a_best_fit_one(stage):
    """The source post's method only exists for BEST_FIT Spot CEs (a Spot Fleet): refused (exit 2,
    nothing changed) on the environment's SPOT_CAPACITY_OPTIMIZED CE; proven on a BEST_FIT CE built
    next to it, whose fleet capacity comes back."""
    run, _, home, clients = stage
    batch, ec2, iam = clients["batch"], clients["ec2"], clients["iam"]
    refused = run(*CHAOS, "--method", "fleet-capacity", check=False)
    assert refused.returncode == 2 and "BEST_FIT" in refused.stderr, refused.stderr[-2000:]
    values = _values(run)
    spot = batch.describe_compute_environments(computeEnvironments=[values["compute_environment_arn"]])[
        "computeEnvironments"][0]
    role = iam.create_role(RoleName="spotkit-test-fleet-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "spotfleet.amazonaws.com"}}]}))["Role"]
    cr = {k: spot["computeResources"][k] for k in ("minvCpus", "maxvCpus", "instanceTypes", "subnets",
                                                   "securityGroupIds", "instanceRole")}
    ce = batch.create_compute_environment(
        computeEnvironmentName="spotkit-test-best-fit", type="MANAGED", serviceRole=spot["serviceRole"],
        computeResources=dict(cr, type="SPOT", allocationStrategy="BEST_FIT", bidPercentage=100,
                              spotIamFleetRole=role["Arn"]))["computeEnvironmentArn"]
    queue = batch.create_job_queue(jobQueueName="spotkit-test-best-fit", priority=1,
                                   computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    try:
        run(*CHAOS, "--method", "fleet-capacity", "--native-retry", "--compute-environment", ce,
            "--job-queue", queue, "--job-definition", values["job_definition_arn"])
        report = _report(home)
        assert report["passed"] is True and report["method"] == "fleet-capacity"
        assert report["fleet_request_id"].startswith("sfr-") and report["capacity_restored"] is True
        cfg = ec2.describe_spot_fleet_requests(SpotFleetRequestIds=[report["fleet_request_id"]])[
            "SpotFleetRequestConfigs"][0]["SpotFleetRequestConfig"]
        assert cfg["TargetCapacity"] >= report["original_target_capacity"] > 0
    finally:  # leave only what Terraform destroys
        batch.update_job_queue(jobQueue=queue, state="DISABLED")
        batch.delete_job_queue(jobQueue=queue)
        batch.update_compute_environment(computeEnvironment=ce, state="DISABLED")
        wait_for("the test queue gone", lambda: not batch.describe_job_queues(jobQueues=[queue])["jobQueues"])
        batch.delete_compute_environment(computeEnvironment=ce)
        iam.delete_role(RoleName="spotkit-test-fleet-role")


def test_dry_run_prints_the_plan_and_changes_nothing(stage):
    run, _, home, clients = stage
    batch, values = clients["batch"], _values(run)
    state_file, latest = home / ".spotkit" / "chaos-state.json", home / "reports" / "chaos-latest.json"

    def jobs():
        return sorted(s["jobId"] for st in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
                      for s in batch.list_jobs(jobQueue=values["job_queue_arn"], jobStatus=st)["jobSummaryList"])

    before = (jobs(), {t["id"] for t in _fis_templates(clients)}, latest.read_bytes() if latest.exists() else b"")
    proc = run(*CHAOS, "--dry-run", "--instances", "2", "--jobs", "2")
    out = proc.stdout + proc.stderr
    for word in ("nothing will be changed", "fis-spot-interruption", "rollbacks", "StopExperiment",
                 "DeleteExperimentTemplate"):
        assert word in out, out[-3000:]
    after = (jobs(), {t["id"] for t in _fis_templates(clients)}, latest.read_bytes() if latest.exists() else b"")
    assert after == before and not state_file.exists()


def test_a_crashed_chaos_run_is_rolled_back_from_its_state_file(stage):
    """SIGKILL once the FIS experiment has started (inside the interruption warning window): `spotkit
    chaos rollback` stops the experiment, deletes the run's template and terminates the probe job."""
    run, env, home, clients = stage
    state_file = home / ".spotkit" / "chaos-state.json"
    standing = {t["id"] for t in _fis_templates(clients)}
    proc = subprocess.Popen([*SPOTKIT, *CHAOS[:-1], "900"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        state = {}
        while time.monotonic() < deadline:
            if state_file.exists():
                state = json.loads(state_file.read_text())
                if state.get("phase") == "fis-experiment-started":
                    break
            time.sleep(0.05)
        assert state.get("phase") == "fis-experiment-started", f"never saw the experiment start: {state}"
        os.killpg(proc.pid, signal.SIGKILL)  # a crash: no finally, no signal handler runs
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    experiment = state["fis_experiment_id"]
    probes = next(u["job_ids"] for u in state["undo"] if u["kind"] == "terminate-jobs")
    run("chaos", "rollback", "--env", "local")
    status = clients["fis"].get_experiment(id=experiment)["experiment"]["state"]["status"]
    assert status in ("stopping", "stopped", "completed"), status
    assert {t["id"] for t in _fis_templates(clients)} == standing
    wait_for("the probe jobs ended (TerminateJob)", lambda: {
        j["status"] for j in clients["batch"].describe_jobs(jobs=probes)["jobs"]} <= {"FAILED", "SUCCEEDED"})
    assert not state_file.exists()
    assert "nothing to roll back" in run("chaos", "rollback", "--env", "local").stderr


def test_reclaimed_array_children_come_back_regrouped_and_run_their_original_indexes(stage, tmp_path):
    """A capacity cut under a running array job: the parent is not resubmitted, the reclaimed
    children come back as one array job, and each new child reads its original index with
    ``python -m spotkit.runtime index``."""
    from spotkit.chaos.probes import instance_of_job
    from spotkit.core import lineage

    run, _, _, clients = stage
    batch, ec2, ecs = clients["batch"], clients["ec2"], clients["ecs"]
    outputs = json.loads(run("tf", "outputs", "--env", "local").stdout)
    values = {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in outputs.items()}
    # Originals write their index and wait to be killed; resubmitted children write theirs and exit.
    script = (f"{sys.executable} -m spotkit.runtime index > {tmp_path}/$AWS_BATCH_JOB_ID.idx; "
              'test -n "$SPOTKIT_ARRAY_INDEX_MAP$SPOTKIT_ARRAY_INDEX" || sleep 600')
    size = 4
    parent = batch.submit_job(jobName="spotkit-array-reclaim", jobQueue=values["job_queue_arn"],
                              jobDefinition=values["job_definition_arn"], arrayProperties={"size": size},
                              retryStrategy={"attempts": 1},  # no native retry: the Lambda's turn
                              containerOverrides={"command": ["sh", "-c", script]})["jobId"]
    children = [f"{parent}:{i}" for i in range(size)]

    def described(ids):
        return batch.describe_jobs(jobs=ids)["jobs"]

    running = wait_for("every child RUNNING",
                    lambda: (lambda js: js if all(j["status"] == "RUNNING" for j in js) else None)(described(children)))
    instances = {instance_of_job(batch, ecs, j, [values["compute_environment_arn"]]) for j in running}
    # Spot reclaims every host of the array at once; the CE's Auto Scaling group replaces them
    ec2.terminate_instances(InstanceIds=sorted(instances))
    failed = wait_for("every child FAILED on host loss", lambda: (lambda js: js if all(
        j["status"] == "FAILED" for j in js) else None)(described(children)))
    assert all(j["statusReason"].startswith("Host EC2 (instance i-") for j in failed)

    def successors():
        ids = [s["jobId"] for s in batch.list_jobs(jobQueue=values["job_queue_arn"], filters=[
            {"name": "JOB_NAME", "values": ["spotkit-array-reclaim"]}])["jobSummaryList"]]
        jobs = [j for j in described(ids) if lineage.previous_job_id(j["tags"]) == parent]
        covered = sum(j.get("arrayProperties", {}).get("size", 1) for j in jobs)
        return jobs if covered >= size else None

    new_jobs = wait_for("the reclaimed children resubmitted", successors, timeout=240)

    assert len(new_jobs) < size, "children reclaimed together must be regrouped, not resubmitted one by one"
    for job in new_jobs:
        assert lineage.read(job["tags"], job["jobId"]) == lineage.Lineage(parent, parent, 1)
    final = wait_for("the regrouped children to finish", lambda: (lambda js: js if all(
        j["status"] in ("SUCCEEDED", "FAILED") for j in js) else None)(described([j["jobId"] for j in new_jobs])),
        timeout=180)
    assert [j["status"] for j in final] == ["SUCCEEDED"] * len(final)
    resolved = []
    for job in new_jobs:
        n = job.get("arrayProperties", {}).get("size")
        ids = [f"{job['jobId']}:{i}" for i in range(n)] if n else [job["jobId"]]
        resolved += [int((tmp_path / f"{i}.idx").read_text()) for i in ids]
    assert sorted(resolved) == list(range(size))
    assert described([parent])[0]["status"] == "FAILED"  # the parent itself is never resubmitted


def test_a_job_whose_revision_was_deregistered_comes_back_on_the_latest_active_one_with_all_its_tags(stage):
    """AWS-shaped events (tags = resourceArn placeholder, no timeout) from the emulator, the deployed
    function with its role's permissions: a job with 49 user tags and a timeout, running on revision N,
    whose revision is deregistered by a deploy (N+1 registered) and then loses its Spot host, comes
    back on N+1 with all 49 tags, its timeout, and the lineage tag recording the move."""
    from spotkit.chaos.probes import instance_of_job
    from spotkit.core import lineage

    run, _, _, clients = stage
    batch, ec2, ecs = clients["batch"], clients["ec2"], clients["ecs"]
    outputs = json.loads(run("tf", "outputs", "--env", "local").stdout)
    values = {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in outputs.items()}
    old = batch.describe_job_definitions(jobDefinitions=[values["job_definition_arn"]])["jobDefinitions"][0]
    user_tags = {f"team-{i:02d}": f"value-{i}" for i in range(49)}
    job = batch.submit_job(jobName="spotkit-revision-moved", jobQueue=values["job_queue_arn"],
                           jobDefinition=old["jobDefinitionArn"], retryStrategy={"attempts": 1},
                           timeout={"attemptDurationSeconds": 3600}, tags=user_tags,
                           containerOverrides={"command": ["sh", "-c", "sleep 600"]})["jobId"]
    wait_for("the job RUNNING", lambda: batch.describe_jobs(jobs=[job])["jobs"][0]["status"] == "RUNNING")
    # A deploy: Terraform registers revision N+1 and deregisters N while the job runs.
    new_arn = batch.register_job_definition(
        jobDefinitionName=old["jobDefinitionName"], type=old["type"], containerProperties=old["containerProperties"],
        **({"retryStrategy": old["retryStrategy"]} if old.get("retryStrategy") else {}))["jobDefinitionArn"]
    batch.deregister_job_definition(jobDefinition=old["jobDefinitionArn"])
    instance = instance_of_job(batch, ecs, batch.describe_jobs(jobs=[job])["jobs"][0],
                               [values["compute_environment_arn"]])
    ec2.terminate_instances(InstanceIds=[instance])  # the Spot host goes
    try:
        def successor():
            ids = [s["jobId"] for s in batch.list_jobs(jobQueue=values["job_queue_arn"], filters=[
                {"name": "JOB_NAME", "values": ["spotkit-revision-moved"]}])["jobSummaryList"]]
            found = [j for j in batch.describe_jobs(jobs=ids)["jobs"] if lineage.previous_job_id(j["tags"]) == job]
            return found[0] if found else None

        new = wait_for("the job resubmitted on the latest ACTIVE revision", successor, timeout=120)
    finally:
        batch.deregister_job_definition(jobDefinition=new_arn)  # leave only what Terraform destroys
    assert batch.describe_jobs(jobs=[job])["jobs"][0]["statusReason"].startswith("Host EC2 (instance i-")
    assert new["jobDefinition"] == new_arn
    assert new["timeout"] == {"attemptDurationSeconds": 3600}
    assert {k: v for k, v in new["tags"].items() if k != lineage.TAG_LINEAGE} == user_tags
    revision = int(old["jobDefinitionArn"].rsplit(":", 1)[1])
    assert lineage.read(new["tags"], new["jobId"]) == lineage.Lineage(job, job, 1, revision_from=revision)
    assert "resourceArn" not in new["tags"]
    batch.terminate_job(jobId=new["jobId"], reason="test done")


# ---------------------------------------------------------------------------- --job-id on a job spotkit did not submit

FOREIGN_RETRY = {"attempts": 3, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"},
                                                   {"onReason": "*", "action": "EXIT"}]}


@pytest.fixture(scope="module")
def foreign(stage):
    """Batch that spotkit's Terraform did not create, made with boto3 beside the kit's: a managed SPOT CE
    (SPOT_PRICE_CAPACITY_OPTIMIZED; its instances tagged spotkit:chaos=opt-in through computeResources.tags),
    an on-demand EC2 CE, a queue on each and a job definition retrying host losses natively. Deleted after."""
    run, _, _, clients = stage
    batch, values = clients["batch"], _values(run)
    kit = batch.describe_compute_environments(computeEnvironments=[values["compute_environment_arn"]])[
        "computeEnvironments"][0]
    cr = {k: kit["computeResources"][k] for k in ("minvCpus", "maxvCpus", "instanceTypes", "subnets",
                                                  "securityGroupIds", "instanceRole")}
    made = {"ces": [], "queues": []}

    def ce_and_queue(name, resources):
        ce = batch.create_compute_environment(computeEnvironmentName=name, type="MANAGED",
                                              serviceRole=kit["serviceRole"], computeResources=resources)
        queue = batch.create_job_queue(jobQueueName=name, priority=1, computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}])["jobQueueArn"]
        made["ces"].append(ce["computeEnvironmentArn"])
        made["queues"].append(queue)
        return ce["computeEnvironmentArn"], queue

    spot_ce, spot_queue = ce_and_queue("team-quant-spot", dict(
        cr, type="SPOT", allocationStrategy="SPOT_PRICE_CAPACITY_OPTIMIZED", tags={"spotkit:chaos": "opt-in"}))
    ec2_ce, ec2_queue = ce_and_queue("team-quant-ondemand",
                                     dict(cr, type="EC2", allocationStrategy="BEST_FIT_PROGRESSIVE"))
    jd = batch.register_job_definition(
        jobDefinitionName="team-quant-backtest", type="container", retryStrategy=FOREIGN_RETRY,
        containerProperties={"image": "busybox", "command": ["sh", "-c", "sleep 600"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "512"}]})["jobDefinitionArn"]
    def cleanup():  # leave only what Terraform destroys; idempotent
        if made.get("cleaned"):
            return
        made["cleaned"] = True
        for queue in made["queues"]:
            for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"):
                for s in batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]:
                    batch.terminate_job(jobId=s["jobId"], reason="test cleanup")
            batch.update_job_queue(jobQueue=queue, state="DISABLED")
            batch.delete_job_queue(jobQueue=queue)
        for queue in made["queues"]:
            wait_for("the foreign queue gone",
                     lambda q=queue: not batch.describe_job_queues(jobQueues=[q])["jobQueues"])
        for ce in made["ces"]:
            batch.update_compute_environment(computeEnvironment=ce, state="DISABLED")
            batch.delete_compute_environment(computeEnvironment=ce)
        batch.deregister_job_definition(jobDefinition=jd)

    try:
        yield {"spot_ce": spot_ce, "spot_queue": spot_queue, "ec2_ce": ec2_ce, "ec2_queue": ec2_queue, "jd": jd,
               "values": values, "cleanup": cleanup}
    finally:
        cleanup()


def _running_job(clients, queue, jd, name):
    batch = clients["batch"]
    job = batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=jd)["jobId"]
    wait_for(f"job {name} RUNNING", lambda: batch.describe_jobs(jobs=[job])["jobs"][0]["status"] == "RUNNING")
    return job


def _host(clients, job, ce):
    from spotkit.chaos.probes import instance_of_job

    batch = clients["batch"]
    return instance_of_job(batch, clients["ecs"], batch.describe_jobs(jobs=[job])["jobs"][0], [ce])


def test_job_id_follows_a_foreign_job_to_its_own_compute_environment_and_instance(stage, foreign):
    """`--job-id J` on a job in a queue and SPOT CE spotkit did not create: the FIS interruption and then
    terminate-instance hit J's own instance (not the kit CE's), and J's native retry brings it back."""
    run, _, home, clients = stage
    batch = clients["batch"]
    job = _running_job(clients, foreign["spot_queue"], foreign["jd"], "team-quant-nightly")
    kit_ce = foreign["values"]["compute_environment_arn"]
    for method, attempt in (("fis-spot-interruption", 1), ("terminate-instance", 2)):
        host = _host(clients, job, foreign["spot_ce"])
        run(*CHAOS, "--job-id", job, "--native-retry", "--method", method)
        report = _report(home)
        assert report["passed"] is True, report.get("failure_reason")
        assert report["method"] == method and report["recovery"] == "native-retry"
        assert report["compute_environment"]["name"] == "team-quant-spot"
        assert report["compute_environment"]["arn"] == foreign["spot_ce"] != kit_ce
        assert report["compute_environment"]["allocation_strategy"] == "SPOT_PRICE_CAPACITY_OPTIMIZED"
        followed = report["followed_job"]
        assert (followed["job_id"], followed["instance_id"], followed["compute_environment_arn"],
                followed["job_queue"]) == (job, host, foreign["spot_ce"], foreign["spot_queue"])
        assert [(t["instance_id"], t["compute_environment"]) for t in report["targets"]] == [(host, "team-quant-spot")]
        assert job in report["targets"][0]["jobs"]
        mine = next(j for j in report["jobs"] if j["job_id"] == job)
        assert mine["passed"] and mine["recovery"] == "native-retry" and mine["recovered_job_id"] == job
        detail = batch.describe_jobs(jobs=[job])["jobs"][0]
        assert detail["attempts"][attempt - 1]["statusReason"] == f"Host EC2 (instance {host}) terminated."
        print(f"\n{method}: to FAILED {mine['seconds_to_failure']} s, back {mine['seconds_to_recovery']} s, "
              f"RUNNING again {mine['seconds_to_running']} s")


def _refused(run, home, clients, *args) -> str:
    """Run `spotkit chaos spot` expecting a refusal: exit 2, one `Error:` line, nothing changed (no state
    file, no report, no FIS template or experiment, no job submitted)."""
    latest = home / "reports" / "chaos-latest.json"
    fis = clients["fis"]

    def snapshot():
        return ({t["id"] for t in fis.list_experiment_templates()["experimentTemplates"]},
                len(fis.list_experiments()["experiments"]),
                latest.read_bytes() if latest.exists() else b"")

    before = snapshot()
    proc = run(*CHAOS, *args, check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert snapshot() == before and not (home / ".spotkit" / "chaos-state.json").exists()
    print(f"\nrefused: {errors[0]}")
    return errors[0]


def test_job_id_refusals_are_one_line_exit_2_and_change_nothing(stage, foreign):
    run, _, home, clients = stage
    batch, ec2 = clients["batch"], clients["ec2"]
    job = _running_job(clients, foreign["spot_queue"], foreign["jd"], "team-quant-refusals")
    attempts = len(batch.describe_jobs(jobs=[job])["jobs"][0]["attempts"])

    assert "no such job" in _refused(run, home, clients, "--job-id", "0f0e0d0c-0000-4000-8000-000000000000")
    # The kit's resubmit rule watches only the kit's queues: resubmission cannot be proven here.
    line = _refused(run, home, clients, "--job-id", job)
    assert foreign["spot_queue"] in line and "watches only" in line and "--native-retry" in line, line
    # PENDING on a dependency: says what it waits for.
    waiting = batch.submit_job(jobName="team-quant-after", jobQueue=foreign["spot_queue"], jobDefinition=foreign["jd"],
                               dependsOn=[{"jobId": job}])["jobId"]
    wait_for("the dependent job PENDING", lambda: batch.describe_jobs(jobs=[waiting])["jobs"][0]["status"] == "PENDING")
    line = _refused(run, home, clients, "--job-id", waiting, "--native-retry")
    assert "PENDING" in line and job in line and "dependsOn" in line, line
    # The host not opted in: the FIS role could not act on it; say how to opt in.
    host = _host(clients, job, foreign["spot_ce"])
    ec2.delete_tags(Resources=[host], Tags=[{"Key": "spotkit:chaos"}])
    try:
        line = _refused(run, home, clients, "--job-id", job, "--native-retry")
        assert host in line and "spotkit:chaos=opt-in" in line and "create-tags" in line, line
    finally:
        ec2.create_tags(Resources=[host], Tags=[{"Key": "spotkit:chaos", "Value": "opt-in"}])
    # An on-demand CE: not SPOT, said what it is.
    on_demand = _running_job(clients, foreign["ec2_queue"], foreign["jd"], "team-quant-ondemand")
    line = _refused(run, home, clients, "--job-id", on_demand, "--native-retry")
    assert "team-quant-ondemand" in line and "EC2" in line and "not SPOT" in line, line
    # --job-queue contradicts the job's own queue.
    assert "drop --job-queue" in _refused(run, home, clients, "--job-id", job, "--native-retry", "--job-queue",
                                          foreign["values"]["job_queue_arn"])
    # None of it touched the job.
    detail = batch.describe_jobs(jobs=[job])["jobs"][0]
    assert detail["status"] == "RUNNING" and len(detail["attempts"]) == attempts


def test_destroy_leaves_nothing_behind(stage, foreign):
    run, _, _, clients = stage
    foreign["cleanup"]()  # the Batch resources made beside the kit's go first: Terraform owns only its own
    run("tf", "destroy", "--env", "local")
    batch, ec2 = clients["batch"], clients["ec2"]
    assert batch.describe_compute_environments()["computeEnvironments"] == []
    assert batch.describe_job_queues()["jobQueues"] == []
    assert [d for d in batch.describe_job_definitions()["jobDefinitions"] if d["status"] == "ACTIVE"] == []
    assert clients["lambda"].list_functions()["Functions"] == []
    assert clients["events"].list_rules()["Rules"] == []
    assert clients["sqs"].list_queues().get("QueueUrls", []) == []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        running = [i["InstanceId"] for r in ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
            for i in r["Instances"]]
        active = [f for f in ec2.describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
                  if f.get("SpotFleetRequestState") == "active"]
        if not running and not active:
            break
        time.sleep(0.5)
    assert running == [] and active == []
    assert clients["autoscaling"].describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert _fis_templates(clients) == []
    assert [st for st in clients["cloudformation"].describe_stacks()["Stacks"]
            if st["StackStatus"] != "DELETE_COMPLETE"] == []
