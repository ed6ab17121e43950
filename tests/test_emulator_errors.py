"""The emulator answers malformed or foreign requests as AWS does -- an AWS error (HTTP 4xx) or an empty
result -- and never HTTP 500.

Each case names the AWS API reference page it follows. Two parts:

* requests against an emulator process (as users run it), including the one that answered HTTP 500
  (ECS DescribeContainerInstances in a cluster that never had a container instance: moto 5.2.5 indexed
  ``container_instances[cluster]`` without a default, a KeyError);
* the general guard (:func:`spotkit.emulator.patches.install`): an unhandled exception inside a
  Batch/ECS/EC2/FIS handler becomes that service's client error, HTTP 400, and a log line saying it is
  the emulator's fault. Proven in a subprocess (the guard patches moto process-wide) by making a
  handler raise.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid

import pytest
from botocore.exceptions import ClientError
from conftest import emulator_clients, emulator_process, free_port

pytestmark = pytest.mark.integration  # starts an emulator process

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with emulator_process(tmp_path_factory.mktemp("errors")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def aws(emulator):
    # No retries: botocore retries a 500 twice, which would hide how many answers were 500s.
    return emulator_clients(emulator.endpoint, ("ecs", "ec2", "batch", "fis"),
                            retries={"max_attempts": 1, "mode": "standard"})


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _error(call) -> tuple:
    """``(error code, HTTP status)`` of a call that must fail."""
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _ci_arn(cluster: str, ci_id: str = None) -> str:
    return f"arn:aws:ecs:us-east-1:{ACCOUNT}:container-instance/{cluster}/{ci_id or uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def clusters(aws):
    """An empty ECS cluster (never a container instance) and one with a registered instance."""
    ecs, ec2 = aws["ecs"], aws["ec2"]
    empty = ecs.create_cluster(clusterName=_name("empty"))["cluster"]["clusterName"]
    busy = ecs.create_cluster(clusterName=_name("busy"))["cluster"]["clusterName"]
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ci = ecs.register_container_instance(cluster=busy, instanceIdentityDocument=json.dumps(
        {"instanceId": instance, "region": "us-east-1", "accountId": ACCOUNT}))["containerInstance"]
    return {"empty": empty, "busy": busy, "instance": instance, "ci": ci["containerInstanceArn"]}


# ECS DescribeContainerInstances
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeContainerInstances.html): errors
# ClientException, ClusterNotFoundException ("The specified cluster wasn't found"), InvalidParameterException,
# ServerException; a container instance it cannot find is a `failures` entry with reason MISSING (Amazon ECS
# Developer Guide, "API failure reasons", api_failures_messages.html), not an error.

def test_describe_container_instances_in_an_unknown_cluster_is_cluster_not_found(aws):
    assert _error(lambda: aws["ecs"].describe_container_instances(
        cluster=_name("nope"), containerInstances=[_ci_arn("nope")])) == ("ClusterNotFoundException", 400)


def test_an_unknown_container_instance_in_a_cluster_that_never_had_one_is_missing_not_500(aws, clusters):
    """The HTTP 500 of issue 14: `spotkit chaos spot --job-id` asked the kit's (empty) cluster for a
    foreign job's container instance."""
    arn = _ci_arn(clusters["empty"])
    resp = aws["ecs"].describe_container_instances(cluster=clusters["empty"], containerInstances=[arn])
    assert resp["containerInstances"] == []
    # moto reports the ARN without the cluster segment; which form ECS echoes is assumed, not verified
    tail = arn.rsplit("/", 1)[-1]
    assert [(f["reason"], f["arn"].rsplit("/", 1)[-1]) for f in resp["failures"]] == [("MISSING", tail)]


def test_a_container_instance_of_another_cluster_is_missing(aws, clusters):
    ecs = aws["ecs"]
    own = ecs.describe_container_instances(cluster=clusters["busy"], containerInstances=[clusters["ci"]])
    assert [c["ec2InstanceId"] for c in own["containerInstances"]] == [clusters["instance"]]
    for cluster in (clusters["empty"], ecs.create_cluster(clusterName=_name("other"))["cluster"]["clusterName"]):
        resp = ecs.describe_container_instances(cluster=cluster, containerInstances=[clusters["ci"]])
        assert resp["containerInstances"] == []
        assert [f["reason"] for f in resp["failures"]] == ["MISSING"]


def test_update_container_instances_state_in_a_cluster_that_never_had_one_is_missing(aws, clusters):
    """UpdateContainerInstancesState had the same moto KeyError
    (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateContainerInstancesState.html)."""
    arn = _ci_arn(clusters["empty"])
    resp = aws["ecs"].update_container_instances_state(cluster=clusters["empty"], containerInstances=[arn],
                                                       status="DRAINING")
    assert resp["containerInstances"] == [] and [f["reason"] for f in resp["failures"]] == ["MISSING"]


# Batch Describe* by unknown ids/names: the lists come back without them
# (https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobs.html,
#  https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeComputeEnvironments.html,
#  https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobQueues.html; errors ClientException and
#  ServerException only). More than 100 job ids is a ClientException (DescribeJobs -> jobs: "up to 100").

def test_batch_describes_of_unknown_things_are_empty(aws):
    batch = aws["batch"]
    assert batch.describe_jobs(jobs=[str(uuid.uuid4()), "not-a-job-id"])["jobs"] == []
    unknown_ce = f"arn:aws:batch:us-east-1:{ACCOUNT}:compute-environment/{_name('nope')}"
    assert batch.describe_compute_environments(computeEnvironments=[_name("nope"), unknown_ce])[
        "computeEnvironments"] == []
    assert batch.describe_job_queues(jobQueues=[_name("nope")])["jobQueues"] == []
    assert _error(lambda: batch.describe_jobs(jobs=[str(uuid.uuid4()) for _ in range(101)])) == (
        "ClientException", 400)


# FIS GetExperiment of an unknown id: ResourceNotFoundException
# (https://docs.aws.amazon.com/fis/latest/APIReference/API_GetExperiment.html).

def test_fis_get_experiment_of_an_unknown_id_is_resource_not_found(aws):
    assert _error(lambda: aws["fis"].get_experiment(id="EXP" + "0" * 15))[0] == "ResourceNotFoundException"


GUARD_CHILD = textwrap.dedent(r"""
    import json, logging, sys
    import boto3
    from botocore.config import Config
    from moto.server import ThreadedMotoServer
    from spotkit.emulator import patches

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    patches.install()
    from moto.batch.models import BatchBackend
    from moto.ec2.models import EC2Backend
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.fis.models import FISBackend
    from moto.events.models import EventsBackend

    def boom(*args, **kwargs):
        raise KeyError("a bug in the emulator")

    BatchBackend.describe_job_queues = boom
    EC2ContainerServiceBackend.list_clusters = boom
    EC2Backend.describe_key_pairs = boom
    FISBackend.list_experiments = boom
    EventsBackend.list_rules = boom
    port = int(sys.argv[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    calls = {"batch": lambda c: c.describe_job_queues(), "ecs": lambda c: c.list_clusters(),
             "ec2": lambda c: c.describe_key_pairs(), "fis": lambda c: c.list_experiments(),
             "events": lambda c: c.list_rules()}
    out = {}
    for service, call in calls.items():
        try:
            call(boto3.client(service, **kw))
            out[service] = None
        except Exception as exc:
            r = getattr(exc, "response", {})
            out[service] = [r.get("Error", {}).get("Code"), r.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                            r.get("Error", {}).get("Message")]
    server.stop()
    print(json.dumps(out))
""")


def test_an_unhandled_exception_in_a_guarded_service_is_its_client_error_and_logged():
    """Batch and ECS: ClientException (listed for every operation of both API references); EC2:
    InvalidRequest (EC2 API Reference, "Error codes", common client errors); FIS: ValidationException
    (listed for the FIS operations); EventBridge: ValidationException (AWS common errors). HTTP 400
    each, with a log line naming the emulator as at fault."""
    proc = subprocess.run([sys.executable, "-c", GUARD_CHILD, str(free_port())], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {s: v[:2] for s, v in out.items()} == {"batch": ["ClientException", 400], "ecs": ["ClientException", 400],
                                                 "ec2": ["InvalidRequest", 400], "fis": ["ValidationException", 400],
                                                 "events": ["ValidationException", 400]}
    assert all("spotkit emulator" in v[2] and "KeyError" in v[2] for v in out.values()), out
    faults = [line for line in proc.stderr.splitlines() if "the emulator's fault" in line]
    assert len(faults) == 5, proc.stderr[-3000:]
    assert "Traceback" in proc.stderr  # the log keeps the traceback for whoever fixes the emulator
