"""spotkit.chaos.workload and spotkit.chaos.verify against a real emulator process.

One emulator per module on a free port (``--execution hold``: jobs stay RUNNING without a process);
each test builds its own BEST_FIT Spot compute environment, queue and job definition with boto3, so
interrupting one test's instances never touches another's jobs. The resubmit function is not
deployed: the tests submit successors exactly as functions/resubmit/stages.py does, with
:func:`spotkit.core.submit.build_submit_request` / :func:`~spotkit.core.submit.build_array_request`
and the lineage helpers, so the shapes the tracker checks are the function's.
"""

from __future__ import annotations

import time
import uuid

import pytest
from conftest import emulator_clients, emulator_process, wait_for
from spotkit.chaos.verify import RecoveryTracker, check_resubmission, host_terminated_instance
from spotkit.chaos.workload import ProbeWorkload, WorkloadError, running_jobs_by_instance, submit_probe_workload
from spotkit.core import lineage
from spotkit.core.indexmap import ARRAY_INDEX_MAP_ENV, decode_index_map
from spotkit.core.job import JobDetail, container_environment
from spotkit.core.submit import build_array_request, build_submit_request, original_array_index

pytestmark = pytest.mark.integration  # starts an emulator process

NATIVE_RETRY = {"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "Host EC2*"},
                                                  {"action": "EXIT", "onReason": "*"}]}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with emulator_process(tmp_path_factory.mktemp("emulator"), "--execution", "hold", "--tick", "0.1",
                          "--dwell-seconds", "0.1", "--scale-delay-seconds", "0.1", "--boot-seconds", "0.1",
                          "--idle-seconds", "60", "--time-scale", "0.02", "--iam", "off") as emu:
        yield emu


@pytest.fixture(scope="module")
def aws(emulator):
    return emulator_clients(emulator.endpoint, ("batch", "ec2", "ecs", "iam"))


@pytest.fixture(scope="module")
def network(aws):
    ec2, iam = aws["ec2"], aws["iam"]
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
    return {"subnet": subnet, "sg": sg,
            "service": iam.create_role(RoleName=_name("svc"), AssumeRolePolicyDocument="{}")["Role"]["Arn"],
            "fleet": iam.create_role(RoleName=_name("fleet"), AssumeRolePolicyDocument="{}")["Role"]["Arn"],
            "profile": iam.create_instance_profile(InstanceProfileName=_name("ecs"))["InstanceProfile"]["Arn"]}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def stack(aws, network):
    """``stack(retry=None)`` -> a BEST_FIT Spot CE of m5.large (2 vCPUs each), a queue and a job
    definition of 1 vCPU (two jobs per instance); every job submitted to it is terminated at the end."""
    made = []

    def _make(retry=None):
        batch = aws["batch"]
        ce = batch.create_compute_environment(
            computeEnvironmentName=_name("ce"), type="MANAGED", state="ENABLED", serviceRole=network["service"],
            computeResources={"type": "SPOT", "allocationStrategy": "BEST_FIT", "minvCpus": 0, "maxvCpus": 16,
                              "instanceTypes": ["m5.large"], "subnets": [network["subnet"]],
                              "securityGroupIds": [network["sg"]], "instanceRole": network["profile"],
                              "spotIamFleetRole": network["fleet"]})["computeEnvironmentArn"]
        queue = batch.create_job_queue(jobQueueName=_name("q"), state="ENABLED", priority=1,
                                       computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
        jd = batch.register_job_definition(
            jobDefinitionName=_name("jd"), type="container", **({"retryStrategy": retry} if retry else {}),
            containerProperties={"image": "busybox", "command": ["true"],
                                 "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                          {"type": "MEMORY", "value": "512"}]})["jobDefinitionArn"]
        made.append(queue)
        return {"ce": ce, "queue": queue, "jd": jd}

    yield _make
    batch = aws["batch"]
    for queue in made:
        for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"):
            for s in batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]:
                batch.terminate_job(jobId=s["jobId"].split(":")[0], reason="test done")


def _running(aws, st, workload: ProbeWorkload, expected: int) -> dict[str, list[dict]]:
    """Wait until ``expected`` jobs of ``workload`` are RUNNING; the instance map."""
    def check():
        m = running_jobs_by_instance(aws["batch"], aws["ecs"], job_queues=[st["queue"]],
                                     compute_environments=[st["ce"]], job_ids=workload.all_ids())
        return m if sum(map(len, m.values())) == expected else None

    return wait_for(f"{expected} probe jobs RUNNING", check, timeout=30, interval=0.1)


def _poll_until(tracker: RecoveryTracker, what: str, predicate, timeout: float = 20.0) -> None:
    def once():
        tracker.poll()
        return predicate()

    wait_for(what, once, timeout=timeout, interval=0.1)


def _describe(batch, ids):
    return {j["jobId"]: j for j in batch.describe_jobs(jobs=list(ids))["jobs"]}


def resubmit_single(batch, failed: dict) -> str:
    """What functions/resubmit does for one reclaimed plain job (stages.plan + act_single)."""
    previous = lineage.of_job(failed.get("tags") or {}, failed["jobId"], container_environment(failed))
    request, _ = build_submit_request(JobDetail(failed), previous.successor(failed["jobId"]))
    return batch.submit_job(**request)["jobId"]


def resubmit_children(batch, children: list[dict], parent: dict, *, regroup: bool = True) -> list[str]:
    """What functions/resubmit does for reclaimed children of one parent (stages._submit_group): one
    array job of their original indexes, or a single job per child when ``regroup`` is False (the
    shape of a chunk of one)."""
    ptags = parent.get("tags") or {}
    planned = []
    for child in children:
        job = JobDetail(child)
        failed_lineage = lineage.read_job(ptags, job.environment, job.job_id) or \
            lineage.Lineage(job.job_id, job.job_id, 0)
        request, _ = build_submit_request(job, failed_lineage.successor(job.job_id), ptags)
        planned.append((original_array_index(job), request, failed_lineage))
    if not regroup:
        return [batch.submit_job(**request)["jobId"] for _, request, _ in planned]
    parent_lineage = planned[0][2]
    original = parent_lineage.original_job_id if parent_lineage.count else parent["jobId"]
    group_lineage = lineage.Lineage(original, parent["jobId"], parent_lineage.count + 1)
    request = build_array_request(planned[0][1], [i for i, _, _ in planned], lineage=group_lineage)
    return [batch.submit_job(**request)["jobId"]]


def _interrupt(aws, instances) -> float:
    aws["ec2"].terminate_instances(InstanceIds=list(instances))
    return time.monotonic()


# ----------------------------------------------------------------------------------- workload
def test_probe_workload_and_running_jobs_by_instance_with_several_jobs_on_two_instances(aws, stack):
    st = stack()
    batch = aws["batch"]
    w = submit_probe_workload(batch, run_id="chaos-t1", job_queue=st["queue"], job_definition=st["jd"], jobs=2,
                              array_size=2, probe_seconds=120)
    assert len(w.job_ids) == 2 and len(w.array_parent_ids) == 1 and len(w.all_ids()) == 3
    details = _describe(batch, w.all_ids())
    assert sorted(d["jobName"] for d in details.values()) == [
        "spotkit-chaos-array-chaos-t1", "spotkit-chaos-probe-chaos-t1-1", "spotkit-chaos-probe-chaos-t1-2"]
    for d in details.values():
        assert d["tags"] == {"spotkit:chaos-run": "chaos-t1", "spotkit:chaos-owner": "spotkit"}
        assert d["timeout"] == {"attemptDurationSeconds": 3600}
        assert d["container"]["command"] == ["sh", "-c", "echo spotkit chaos probe; sleep 120"]
        assert d["retryStrategy"]["attempts"] == 1
    parent = w.array_parent_ids[0]
    children = {f"{parent}:0", f"{parent}:1"}

    by_instance = _running(aws, st, w, 4)
    assert len(by_instance) == 2 and sorted(map(len, by_instance.values())) == [2, 2]
    ids = {d["jobId"] for jobs in by_instance.values() for d in jobs}
    assert ids == set(w.job_ids) | children  # children individually, never the parent
    from spotkit.chaos.fleet import instance_of_job
    for instance, jobs in by_instance.items():
        for d in jobs:
            assert d["status"] == "RUNNING"
            assert instance_of_job(batch, aws["ecs"], d, [st["ce"]]) == instance

    # Without job_ids: every RUNNING job of the queue, array children included.
    everything = running_jobs_by_instance(batch, aws["ecs"], job_queues=[st["queue"]], compute_environments=[st["ce"]])
    assert {d["jobId"] for jobs in everything.values() for d in jobs} == ids
    # job_ids: only those, a parent standing for its children.
    some = running_jobs_by_instance(batch, aws["ecs"], job_queues=[st["queue"]], compute_environments=[st["ce"]],
                                    job_ids=[w.job_ids[0], parent])
    assert {d["jobId"] for jobs in some.values() for d in jobs} == {w.job_ids[0]} | children


def test_probe_workload_refuses_bad_arguments_before_submitting(aws):
    for kwargs in ({"array_size": 1}, {"array_size": 10_001}, {"jobs": 0}, {"probe_seconds": 0}, {"vcpus": 0}):
        with pytest.raises(WorkloadError):
            submit_probe_workload(aws["batch"], run_id="r", job_queue="q", job_definition="d", **kwargs)


# ----------------------------------------------------------------------------------- plain jobs
def _watch_one(aws, st, *, native_retry=False):
    w = submit_probe_workload(aws["batch"], run_id=_name("chaos"), job_queue=st["queue"], job_definition=st["jd"],
                              native_retry=native_retry, probe_seconds=120)
    return w.job_ids[0], _running(aws, st, w, 1)


def test_a_resubmitted_plain_job_passes(aws, stack):
    st = stack()
    batch = aws["batch"]
    job_id, by_instance = _watch_one(aws, st)
    tracker = RecoveryTracker(batch, by_instance, native_retry=False, injected_at=_interrupt(aws, by_instance))
    [outcome] = tracker.outcomes
    _poll_until(tracker, "the host-loss failure", lambda: outcome.state == "failed-on-host")
    assert outcome.failure_reason == f"Host EC2 (instance {outcome.instance_id}) terminated."
    assert host_terminated_instance(outcome.failure_reason) == outcome.instance_id
    original = _describe(batch, [job_id])[job_id]
    new_id = resubmit_single(batch, original)
    _poll_until(tracker, "the resubmitted job RUNNING", tracker.done)

    assert outcome.passed(), outcome.problems
    assert (outcome.state, outcome.recovery, outcome.recovered_job_id, outcome.successors) == \
        ("running-again", "resubmitted", new_id, 1)
    assert 0 <= outcome.seconds_to_failure <= outcome.seconds_to_recovery <= outcome.seconds_to_running
    assert [e["kind"] for e in tracker.events] == ["FAILED", "resubmitted", "RUNNING-again"]
    assert all(e["subject"] == f"job:{job_id}" and e["at"].endswith("Z") for e in tracker.events)
    assert tracker.summary() == {"jobs": 1, "passed": 1, "problems": [], "states": {"running-again": 1}}
    assert set(outcome.to_dict()) >= {"job_id", "job_name", "array_index", "instance_id", "recovery",
                                      "recovered_job_id", "successors", "passed", "problems", "seconds_to_failure",
                                      "seconds_to_recovery", "seconds_to_running", "state", "failure_reason"}
    new = _describe(batch, [new_id])[new_id]
    assert check_resubmission(original, new) == []
    lineage_problem, tags_problem, timeout_problem = check_resubmission(original, {**new, "timeout": None, "tags": {}})
    assert lineage_problem == f"lineage None, expected 'count=1 original={job_id} previous={job_id}'"
    assert tags_problem.startswith("user tags not carried over: ") and "spotkit:chaos-run" in tags_problem
    assert timeout_problem == f"timeout None differs from the original's {original['timeout']!r}"


def test_native_retry_passes_with_no_successor(aws, stack):
    st = stack(retry=NATIVE_RETRY)
    job_id, by_instance = _watch_one(aws, st, native_retry=True)
    tracker = RecoveryTracker(aws["batch"], by_instance, native_retry=True, injected_at=_interrupt(aws, by_instance))
    _poll_until(tracker, "the new attempt RUNNING", tracker.done)
    [outcome] = tracker.outcomes
    assert outcome.passed(), outcome.problems
    assert (outcome.recovery, outcome.recovered_job_id, outcome.successors) == ("native-retry", job_id, 0)
    assert [e["kind"] for e in tracker.events] == ["FAILED", "retried", "RUNNING-again"]


def test_a_duplicate_successor_is_flagged(aws, stack):
    st = stack()
    batch = aws["batch"]
    job_id, by_instance = _watch_one(aws, st)
    tracker = RecoveryTracker(batch, by_instance, native_retry=False, injected_at=_interrupt(aws, by_instance))
    [outcome] = tracker.outcomes
    _poll_until(tracker, "the host-loss failure", lambda: outcome.state == "failed-on-host")
    original = _describe(batch, [job_id])[job_id]
    first, second = resubmit_single(batch, original), resubmit_single(batch, original)
    _poll_until(tracker, "a verdict", tracker.done)
    assert outcome.state == "problem" and not outcome.passed() and outcome.successors == 2
    both = ", ".join(sorted([first, second]))
    assert outcome.problems == [f"duplicate: job {job_id} was resubmitted 2 times ({both})"]
    assert tracker.summary()["problems"] == [f"job {job_id}: {outcome.problems[0]}"]


def test_a_missing_successor_keeps_waiting_until_the_caller_gives_up(aws, stack):
    st = stack()
    _, by_instance = _watch_one(aws, st)
    tracker = RecoveryTracker(aws["batch"], by_instance, native_retry=False, injected_at=_interrupt(aws, by_instance))
    [outcome] = tracker.outcomes
    _poll_until(tracker, "the host-loss failure", lambda: outcome.state == "failed-on-host")
    for _ in range(5):
        assert tracker.poll() is False
        time.sleep(0.1)
    assert outcome.state == "failed-on-host" and outcome.problems == []
    tracker.expire()
    assert outcome.state == "problem" and outcome.problems[0].startswith("no successor after ")


def test_a_failure_for_another_reason_is_flagged(aws, stack):
    st = stack()
    batch = aws["batch"]
    job_id, by_instance = _watch_one(aws, st)
    tracker = RecoveryTracker(batch, by_instance, native_retry=False, injected_at=time.monotonic())
    batch.terminate_job(jobId=job_id, reason="an operator cancelled it")
    _poll_until(tracker, "a verdict", tracker.done)
    [outcome] = tracker.outcomes
    assert outcome.state == "problem"
    assert outcome.problems == [f"job {job_id} failed for another reason: 'an operator cancelled it' "
                                f"(expected 'Host EC2 (instance {outcome.instance_id}) terminated.')"]


# ----------------------------------------------------------------------------------- array jobs
def _reclaim_children(aws, st):
    """An array probe of 4 children on two instances; the instance of the highest index is
    interrupted. Returns (tracker, parent detail, reclaimed children details, their indexes)."""
    batch = aws["batch"]
    w = submit_probe_workload(batch, run_id=_name("chaos"), job_queue=st["queue"], job_definition=st["jd"],
                              jobs=0, array_size=4, probe_seconds=120)
    parent_id = w.array_parent_ids[0]
    by_instance = _running(aws, st, w, 4)
    target = next(i for i, jobs in by_instance.items() if f"{parent_id}:3" in {d["jobId"] for d in jobs})
    watched = {target: by_instance[target]}
    tracker = RecoveryTracker(batch, watched, native_retry=False, injected_at=_interrupt(aws, [target]))
    _poll_until(tracker, "the children's host-loss failures",
                lambda: all(o.state == "failed-on-host" for o in tracker.outcomes))
    ids = [o.job_id for o in tracker.outcomes]
    details = _describe(batch, [parent_id, *ids])
    indexes = sorted(o.array_index for o in tracker.outcomes)
    assert len(indexes) == 2 and 3 in indexes
    return tracker, details[parent_id], [details[i] for i in ids], indexes


def test_reclaimed_array_children_regrouped_pass_with_their_indexes_mapped(aws, stack):
    st = stack()
    batch = aws["batch"]
    tracker, parent, children, indexes = _reclaim_children(aws, st)
    [new_id] = resubmit_children(batch, children, parent)
    new = _describe(batch, [new_id])[new_id]
    assert decode_index_map(container_environment(new)[ARRAY_INDEX_MAP_ENV]) == indexes
    _poll_until(tracker, "the regrouped children RUNNING", tracker.done)

    for o in tracker.outcomes:
        assert o.passed(), o.problems
        assert o.recovery == "resubmitted" and o.successors == 1
        assert o.recovered_job_id == f"{new_id}:{indexes.index(o.array_index)}"  # new index -> original index
        assert o.original_index == o.array_index
    assert tracker.summary()["passed"] == 2
    assert _describe(batch, [parent["jobId"]])[parent["jobId"]]["status"] in ("PENDING", "FAILED")  # never resubmitted


def test_an_array_index_covered_twice_is_flagged_as_a_duplicate(aws, stack):
    st = stack()
    batch = aws["batch"]
    tracker, parent, children, indexes = _reclaim_children(aws, st)
    [group_id] = resubmit_children(batch, children, parent)
    twice = next(c for c in children if c["jobId"].endswith(f":{indexes[0]}"))
    [lone_id] = resubmit_children(batch, [twice], parent, regroup=False)  # a lone child's single job
    _poll_until(tracker, "a verdict", tracker.done)

    by_index = {o.array_index: o for o in tracker.outcomes}
    dup, fine = by_index[indexes[0]], by_index[indexes[1]]
    assert dup.state == "problem" and dup.successors == 2
    assert dup.problems == [f"duplicate: original index {indexes[0]} of array job {parent['jobId']} was resubmitted "
                            f"2 times ({', '.join(sorted([f'{group_id}:0', lone_id]))})"]
    assert fine.passed(), fine.problems
    assert fine.recovered_job_id == f"{group_id}:1"


def test_a_resubmitted_array_parent_is_flagged(aws, stack):
    st = stack()
    batch = aws["batch"]
    tracker, parent, children, _ = _reclaim_children(aws, st)
    whole, _ = build_submit_request(JobDetail(parent), lineage.Lineage(parent["jobId"], parent["jobId"], 1))
    whole_id = batch.submit_job(**whole)["jobId"]  # the parent as a single job: not how children come back
    _poll_until(tracker, "a verdict", tracker.done)
    for o in tracker.outcomes:
        assert o.problems == [f"the array parent {parent['jobId']} itself was resubmitted as {whole_id} "
                              "(expected only regroups of its reclaimed children)"]


def test_native_retry_that_was_also_resubmitted_is_flagged(aws, stack):
    st = stack(retry=NATIVE_RETRY)
    batch = aws["batch"]
    job_id, by_instance = _watch_one(aws, st, native_retry=True)
    tracker = RecoveryTracker(batch, by_instance, native_retry=True, injected_at=_interrupt(aws, by_instance))
    [outcome] = tracker.outcomes
    _poll_until(tracker, "the host-loss failure", lambda: outcome.state != "waiting-failure")
    extra = resubmit_single(batch, _describe(batch, [job_id])[job_id])
    _poll_until(tracker, "a verdict", lambda: outcome.state == "problem")
    assert outcome.problems == [f"job {job_id} was retried natively AND resubmitted as {extra}: recovered twice"]


# ------------------------------------------------------------------------------ check_resubmission
def _job(job_id, **kw):
    base = {"jobId": job_id, "jobName": "n", "status": "FAILED",
            "jobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/spot",
            "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/jd:3",
            "container": {"command": ["sleep", "1"]}, "timeout": {"attemptDurationSeconds": 3600},
            "tags": {"team": "data"}}
    return {**base, **kw}


def test_check_resubmission_accepts_the_documented_revision_switch_and_the_fallback_queue():
    original = _job("a", tags={"team": "data", lineage.TAG_LINEAGE: "count=1 original=o previous=o"})
    switched = _job("b", jobDefinition="arn:aws:batch:us-east-1:123456789012:job-definition/jd:4",
                    jobQueue="arn:aws:batch:us-east-1:123456789012:job-queue/on-demand",
                    tags={"team": "data", lineage.TAG_LINEAGE: "count=2 original=o previous=a revision-from=3"})
    # Loss number 2 of the lineage: the function's default SPOTKIT_FALLBACK_AFTER_LOSSES=2 sends it on-demand.
    assert check_resubmission(original, switched, fallback_job_queue="on-demand") == []
    problems = check_resubmission(original, switched)  # no fallback configured: the original's queue
    assert problems == ["jobQueue 'arn:aws:batch:us-east-1:123456789012:job-queue/on-demand' is not the original's "
                        "queue 'arn:aws:batch:us-east-1:123456789012:job-queue/spot'"]
    assert check_resubmission(original, switched, fallback_job_queue="on-demand", fallback_after_losses=3) != []
    unrecorded = {**switched, "tags": {"team": "data", lineage.TAG_LINEAGE: "count=2 original=o previous=a"}}
    [problem] = check_resubmission(original, unrecorded, fallback_job_queue="on-demand")
    assert problem.startswith("jobDefinition ") and "revision switch" in problem
    placeholder = {**switched, "tags": {**switched["tags"], "resourceArn": "arn:x"}}
    assert check_resubmission(original, placeholder, fallback_job_queue="on-demand") == [
        "the event's resourceArn placeholder became a tag"]


def test_a_regroup_that_also_reruns_a_child_not_lost_is_flagged(aws, stack):
    """The regroup of the reclaimed children also maps an index whose child still RUNS on the other
    instance (never lost, never watched): that child now runs twice."""
    st = stack()
    batch = aws["batch"]
    tracker, parent, children, indexes = _reclaim_children(aws, st)
    alive = next(i for i in range(4) if i not in indexes)
    still_running = _describe(batch, [f"{parent['jobId']}:{alive}"])[f"{parent['jobId']}:{alive}"]
    assert still_running["status"] == "RUNNING"
    [group_id] = resubmit_children(batch, [*children, still_running], parent)
    _poll_until(tracker, "a verdict", tracker.done)
    for o in tracker.outcomes:
        assert o.state == "problem" and not o.passed()
        assert any(f"original index {alive}" in p and "not lost" in p and group_id in p for p in o.problems), o.problems
