"""spotkit.runtime: the original array index a job container resolves, its map codec and its CLI.

Unit tests drive the functions with explicit environments; CLI tests run ``python -m spotkit.runtime``
in a subprocess with a controlled environment; one integration test runs a real array job on the
emulator whose children call the CLI.
"""

from __future__ import annotations

import ast
import os
import random
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import emulator_process
from spotkit import runtime
from spotkit.runtime import ArrayIndexError, decode_index_map, encode_index_map, original_array_index

RUNTIME_FILE = Path(runtime.__file__)


# ------------------------------------------------------------------------------------ decode / encode
@pytest.mark.parametrize("text, expected", [
    ("0-2,7,9-11", [0, 1, 2, 7, 9, 10, 11]),
    ("4,9-10", [4, 9, 10]),
    ("  4,9-10\n", [4, 9, 10]),  # whitespace around the whole text is tolerated
    ("7", [7]),
    ("5-5", [5]),  # a degenerate range is not canonical but unambiguous
    ("1,2,3", [1, 2, 3]),  # adjacent singles: not canonical, still ascending
    ("0-9999", list(range(10_000))),  # exactly Batch's maximum array size
    ("9999", [9999]),
])
def test_decode_examples(text, expected):
    assert decode_index_map(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("  \t", "empty"),
    ("0, 2", "no spaces"),
    ("0 -2", "no spaces"),
    ("0- 2", "no spaces"),
    ("1,,2", "expected N or A-B"),
    (",1", "expected N or A-B"),
    ("1,", "expected N or A-B"),
    ("1;2", "expected N or A-B"),
    ("a", "expected N or A-B"),
    ("+1", "expected N or A-B"),
    ("1.5", "expected N or A-B"),
    ("1-2-3", "expected N or A-B"),
    ("0x10", "expected N or A-B"),
    ("\u0661", "expected N or A-B"),  # ARABIC-INDIC DIGIT ONE: Python's int() takes it, the map does not
    ("[1, 2]", "expected N or A-B"),
    ("-3", "negative"),
    ("1,-3", "negative"),
    ("3--5", "negative"),
    ("5-3", "descending range (5 > 3)"),
    ("3,1", "strictly ascending"),
    ("1,1", "strictly ascending"),
    ("0-2,2", "must not overlap"),
    ("0-5,3-8", "must not overlap"),
    ("0-10000", "more than 10,000 indexes"),
    ("0-4999,5000-10000", "more than 10,000 indexes"),
    ("10000", "index 10000 is above 9999"),
    ("9990-10005", "above 9999"),
    ("123456789012345678901234567890", "index 123456789012345678901234567890 is above 9999"),
])
def test_decode_rejects(text, message):
    with pytest.raises(ValueError) as info:
        decode_index_map(text)
    assert message in str(info.value)


def test_decode_error_names_the_entry():
    with pytest.raises(ValueError, match=r"entry 3 '2-9'"):
        decode_index_map("0,4,2-9")


def test_decode_error_message_stays_short_for_a_huge_entry():
    with pytest.raises(ValueError) as info:
        decode_index_map("1" * 5000 + "x")
    assert len(str(info.value)) < 300


def test_decode_wants_text():
    with pytest.raises(TypeError, match="must be a str"):
        decode_index_map(b"0-2")


@pytest.mark.parametrize("indexes, expected", [
    ([0, 1, 2, 7, 9, 10, 11], "0-2,7,9-11"),
    ([9, 0, 1, 2, 7, 10, 2], "0-2,7,9-10"),  # unordered, duplicated: treated as a set
    ([5], "5"),
    ([3, 4], "3-4"),
    ([0, 2, 4], "0,2,4"),
    (range(10_000), "0-9999"),
    ((i for i in (8, 6, 7)), "6-8"),  # any iterable
    ([9999], "9999"),
])
def test_encode_examples(indexes, expected):
    assert encode_index_map(indexes) == expected


@pytest.mark.parametrize("indexes, error, message", [
    ([], ValueError, "empty"),
    ([1, -1], ValueError, "array index -1 is negative"),
    ([10_000], ValueError, "array index 10000 is above 9999"),
    ([1.0], TypeError, "not float"),
    (["3"], TypeError, "not str"),
    ([None], TypeError, "not NoneType"),
    ([True], TypeError, "not bool"),
])
def test_encode_rejects(indexes, error, message):
    with pytest.raises(error) as info:
        encode_index_map(indexes)
    assert message in str(info.value)


def _random_index_set(rng: random.Random) -> list:
    """Clustered (like the children of lost instances) or scattered indexes, 1..10,000 of them."""
    shape = rng.choice(("scattered", "clustered", "dense", "edges"))
    if shape == "scattered":
        return rng.sample(range(10_000), rng.randint(1, 300))
    if shape == "dense":
        start = rng.randrange(10_000)
        return list(range(start, rng.randint(start, 9_999) + 1))
    if shape == "edges":
        return rng.sample([0, 1, 2, 9_997, 9_998, 9_999], rng.randint(1, 6))
    out = []
    for _ in range(rng.randint(1, 40)):
        start = rng.randrange(10_000)
        out.extend(range(start, min(start + rng.randint(1, 50), 10_000)))
    return out


def test_round_trips_over_random_sets():
    rng = random.Random(20240521)
    for _ in range(600):
        indexes = _random_index_set(rng)
        noisy = indexes + rng.sample(indexes, min(len(indexes), 5))  # duplicates, like a redelivered event
        rng.shuffle(noisy)
        text = encode_index_map(noisy)
        expected = sorted(set(indexes))
        assert decode_index_map(text) == expected, text
        assert encode_index_map(decode_index_map(text)) == text  # the encoding is canonical
        # canonical: every range spans >= 2 indexes, and no two neighbouring entries could be merged
        bounds = []
        for entry in text.split(","):
            first, _, last = entry.partition("-")
            bounds.append((int(first), int(last or first)))
            assert "-" not in entry or bounds[-1][0] < bounds[-1][1], text
        assert all(nxt[0] > prev[1] + 1 for prev, nxt in zip(bounds, bounds[1:])), text


# ------------------------------------------------------------------------------- resolution order
def test_not_an_array_job():
    assert original_array_index({}) is None
    assert original_array_index({"AWS_BATCH_JOB_ID": "abc", "PATH": "/bin"}) is None


def test_blank_values_count_as_unset():
    env = {"SPOTKIT_ARRAY_INDEX_MAP": "", "SPOTKIT_ARRAY_INDEX": "  ", "AWS_BATCH_JOB_ARRAY_INDEX": ""}
    assert original_array_index(env) is None
    assert original_array_index({"SPOTKIT_ARRAY_INDEX_MAP": " ", "AWS_BATCH_JOB_ARRAY_INDEX": "4"}) == 4


def test_an_original_child_uses_the_batch_index():
    assert original_array_index({"AWS_BATCH_JOB_ARRAY_INDEX": "0"}) == 0
    assert original_array_index({"AWS_BATCH_JOB_ARRAY_INDEX": "9999", "AWS_BATCH_JOB_ARRAY_SIZE": "10000"}) == 9999
    assert original_array_index({"AWS_BATCH_JOB_ARRAY_INDEX": " 12\n"}) == 12


def test_a_lone_resubmitted_child_uses_spotkit_array_index():
    assert original_array_index({"SPOTKIT_ARRAY_INDEX": "41"}) == 41
    # SPOTKIT_ARRAY_INDEX outranks AWS_BATCH_JOB_ARRAY_INDEX
    assert original_array_index({"SPOTKIT_ARRAY_INDEX": "41", "AWS_BATCH_JOB_ARRAY_INDEX": "0"}) == 41


def test_a_regrouped_child_looks_its_position_up_in_the_map():
    for position, original in enumerate([0, 1, 2, 7, 9, 10, 11]):
        env = {"SPOTKIT_ARRAY_INDEX_MAP": "0-2,7,9-11", "AWS_BATCH_JOB_ARRAY_INDEX": str(position)}
        assert original_array_index(env) == original
        env["AWS_BATCH_JOB_ARRAY_SIZE"] = "7"
        assert original_array_index(env) == original


def test_the_map_outranks_spotkit_array_index():
    env = {"SPOTKIT_ARRAY_INDEX_MAP": "4,9-10", "SPOTKIT_ARRAY_INDEX": "3", "AWS_BATCH_JOB_ARRAY_INDEX": "2"}
    assert original_array_index(env) == 10


def test_reads_os_environ_by_default(monkeypatch):
    for name in ("SPOTKIT_ARRAY_INDEX_MAP", "SPOTKIT_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX",
                 "AWS_BATCH_JOB_ARRAY_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert original_array_index() is None
    monkeypatch.setenv("AWS_BATCH_JOB_ARRAY_INDEX", "1")
    monkeypatch.setenv("SPOTKIT_ARRAY_INDEX_MAP", "4,9-10")
    assert original_array_index() == 9


@pytest.mark.parametrize("env, variable, value, message", [
    ({"SPOTKIT_ARRAY_INDEX_MAP": "3,1", "AWS_BATCH_JOB_ARRAY_INDEX": "0"},
     "SPOTKIT_ARRAY_INDEX_MAP", "3,1", "strictly ascending"),
    ({"SPOTKIT_ARRAY_INDEX_MAP": "[4, 9, 10]", "AWS_BATCH_JOB_ARRAY_INDEX": "0"},
     "SPOTKIT_ARRAY_INDEX_MAP", "[4, 9, 10]", "expected N or A-B"),
    ({"SPOTKIT_ARRAY_INDEX_MAP": "4,9-10"},
     "AWS_BATCH_JOB_ARRAY_INDEX", None, "required with SPOTKIT_ARRAY_INDEX_MAP='4,9-10'"),
    ({"SPOTKIT_ARRAY_INDEX_MAP": "4,9-10", "SPOTKIT_ARRAY_INDEX": "9"},  # a map left on a single job
     "AWS_BATCH_JOB_ARRAY_INDEX", None, "not an array child"),
    ({"SPOTKIT_ARRAY_INDEX_MAP": "4,9-10", "AWS_BATCH_JOB_ARRAY_INDEX": "3"},
     "AWS_BATCH_JOB_ARRAY_INDEX", "3", "which has 3 entries (valid positions 0..2)"),
    ({"SPOTKIT_ARRAY_INDEX_MAP": "4,9-10", "AWS_BATCH_JOB_ARRAY_INDEX": "x:1"},
     "AWS_BATCH_JOB_ARRAY_INDEX", "x:1", "bare integer"),
    ({"SPOTKIT_ARRAY_INDEX_MAP": "4,9-10", "AWS_BATCH_JOB_ARRAY_INDEX": "1", "AWS_BATCH_JOB_ARRAY_SIZE": "4"},
     "AWS_BATCH_JOB_ARRAY_SIZE", "4", "does not match"),
    ({"SPOTKIT_ARRAY_INDEX_MAP": "4,9-10", "AWS_BATCH_JOB_ARRAY_INDEX": "1", "AWS_BATCH_JOB_ARRAY_SIZE": "three"},
     "AWS_BATCH_JOB_ARRAY_SIZE", "three", "does not match"),
    ({"SPOTKIT_ARRAY_INDEX": "-1"}, "SPOTKIT_ARRAY_INDEX", "-1", "non-negative decimal integer"),
    ({"SPOTKIT_ARRAY_INDEX": "seven"}, "SPOTKIT_ARRAY_INDEX", "seven", "non-negative decimal integer"),
    ({"SPOTKIT_ARRAY_INDEX": "10000"}, "SPOTKIT_ARRAY_INDEX", "10000", "above 9999"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "49970833-3524-4e37-9ab2-a5b2057d2bf9:0"},
     "AWS_BATCH_JOB_ARRAY_INDEX", "49970833-3524-4e37-9ab2-a5b2057d2bf9:0", "bare integer such as '3'"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "1.0"}, "AWS_BATCH_JOB_ARRAY_INDEX", "1.0", "non-negative decimal integer"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "10000"}, "AWS_BATCH_JOB_ARRAY_INDEX", "10000", "above 9999"),
])
def test_resolution_errors_name_variable_and_value(env, variable, value, message):
    with pytest.raises(ArrayIndexError) as info:
        original_array_index(env)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.variable, err.value) == (variable, value)
    assert str(err).startswith(variable)
    assert message in str(err)
    if value is not None:
        assert f"{variable}={value!r}: " in str(err)
    else:
        assert f"{variable} is not set" in str(err)


# ---------------------------------------------------------------------------------------- the CLI
def _cli(args, env, python_args=("-m", "spotkit.runtime"), cwd=None):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    base.update(env)
    return subprocess.run([sys.executable, *python_args, *args], env=base, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_cli_prints_the_original_index():
    done = _cli(["index"], {"SPOTKIT_ARRAY_INDEX_MAP": "4,9-10", "AWS_BATCH_JOB_ARRAY_INDEX": "1"})
    assert (done.returncode, done.stdout, done.stderr) == (0, "9\n", "")
    done = _cli(["index"], {"SPOTKIT_ARRAY_INDEX": "17"})
    assert (done.returncode, done.stdout) == (0, "17\n")
    done = _cli(["index"], {"AWS_BATCH_JOB_ARRAY_INDEX": "2"})
    assert (done.returncode, done.stdout) == (0, "2\n")


def test_cli_exit_1_when_not_an_array_job():
    done = _cli(["index"], {})
    assert done.returncode == 1
    assert done.stdout == ""
    assert "not an array job" in done.stderr
    assert "SPOTKIT_ARRAY_INDEX_MAP, SPOTKIT_ARRAY_INDEX, AWS_BATCH_JOB_ARRAY_INDEX" in done.stderr


@pytest.mark.parametrize("env, fragment", [
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "abc:2"}, "AWS_BATCH_JOB_ARRAY_INDEX='abc:2'"),
    ({"SPOTKIT_ARRAY_INDEX_MAP": "4,9-10"}, "AWS_BATCH_JOB_ARRAY_INDEX is not set"),
    ({"SPOTKIT_ARRAY_INDEX_MAP": "9-4", "AWS_BATCH_JOB_ARRAY_INDEX": "0"}, "SPOTKIT_ARRAY_INDEX_MAP='9-4'"),
])
def test_cli_exit_2_on_malformed_environment(env, fragment):
    done = _cli(["index"], env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_help_explains():
    done = _cli(["--help"], {})
    assert done.returncode == 0
    for needle in ("index", "SPOTKIT_ARRAY_INDEX_MAP", "SPOTKIT_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX",
                   "exit status", "1 = not an array job", "never split it on ':'"):
        assert needle in done.stdout
    sub = _cli(["index", "--help"], {})
    assert sub.returncode == 0 and "exit status" in sub.stdout


def test_cli_usage_errors():
    assert _cli([], {}).returncode == 2
    assert _cli(["indexes"], {}).returncode == 2


def test_the_module_runs_vendored_with_the_standard_library_alone(tmp_path):
    """A job image may copy the single file: it must run without site-packages (-S) or spotkit."""
    vendored = tmp_path / "spotkit_runtime.py"
    shutil.copy(RUNTIME_FILE, vendored)
    done = _cli(["index"], {"SPOTKIT_ARRAY_INDEX_MAP": "0-2,7,9-11", "AWS_BATCH_JOB_ARRAY_INDEX": "4"},
                python_args=("-S", "-I", str(vendored)), cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "9\n", "")


def test_imports_are_standard_library_only():
    tree = ast.parse(RUNTIME_FILE.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert "spotkit" not in modules
    if hasattr(sys, "stdlib_module_names"):  # Python >= 3.10
        assert modules <= set(sys.stdlib_module_names) | {"__future__"}, modules


# ------------------------------------------------------------------------------ on the emulator
@pytest.fixture
def emulator(tmp_path):
    """``python -m spotkit.emulator.server`` on a free port with short timings (as tests/test_emulator.py)."""
    work = tmp_path / "emulator"
    work.mkdir()
    with emulator_process(work, "--tick", "0.1", "--dwell-seconds", "0.2", "--scale-delay-seconds", "0.3",
                          "--boot-seconds", "0.3", "--idle-seconds", "2") as emulator:
        yield emulator.endpoint, work


@pytest.mark.integration
def test_regrouped_array_children_resolve_their_original_indexes(emulator, tmp_path):
    """A real array job of size 3 carrying SPOTKIT_ARRAY_INDEX_MAP="4,9-10", as spotkit resubmits three
    lost children 4, 9 and 10: each child runs ``python -m spotkit.runtime index`` as a local process."""
    import boto3

    endpoint, work = emulator
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing")
    ec2, iam, batch = (boto3.client(n, **kw) for n in ("ec2", "iam", "batch"))
    name = f"rt-{uuid.uuid4().hex[:8]}"
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName=name, Description="batch", VpcId=vpc)["GroupId"]
    service = iam.create_role(RoleName=f"{name}-svc", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    fleet = iam.create_role(RoleName=f"{name}-fleet", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=f"{name}-ecs")["InstanceProfile"]["Arn"]
    ce = batch.create_compute_environment(
        computeEnvironmentName=f"{name}-ce", type="MANAGED", state="ENABLED", serviceRole=service,
        computeResources={"type": "SPOT", "allocationStrategy": "BEST_FIT", "minvCpus": 0, "maxvCpus": 4,
                          "instanceTypes": ["m5.large"], "subnets": [subnet], "securityGroupIds": [sg],
                          "instanceRole": profile, "spotIamFleetRole": fleet})["computeEnvironmentArn"]
    queue = batch.create_job_queue(jobQueueName=f"{name}-q", state="ENABLED", priority=1,
                                   computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])["jobQueueArn"]
    out = tmp_path / "out"
    out.mkdir()
    # The emulator gives job processes PATH=/usr/local/bin:/usr/bin:/bin, so name this venv's python.
    script = (f"{shlex.quote(sys.executable)} -m spotkit.runtime index "
              f"> {shlex.quote(str(out))}/child_$AWS_BATCH_JOB_ARRAY_INDEX "
              f"2> {shlex.quote(str(out))}/child_$AWS_BATCH_JOB_ARRAY_INDEX.err")
    jd = batch.register_job_definition(
        jobDefinitionName=f"{name}-jd", type="container",
        containerProperties={"image": "busybox", "command": ["sh", "-c", "exit 3"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "512"}]})["jobDefinitionArn"]
    job_id = batch.submit_job(
        jobName=f"{name}-regrouped", jobQueue=queue, jobDefinition=jd, arrayProperties={"size": 3},
        containerOverrides={"command": ["sh", "-c", script],
                            "environment": [{"name": "SPOTKIT_ARRAY_INDEX_MAP", "value": "4,9-10"}]})["jobId"]
    deadline = time.monotonic() + 90
    while True:
        parent = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if parent["status"] in ("SUCCEEDED", "FAILED"):
            break
        assert time.monotonic() < deadline, f"array job still {parent['status']}:\n" + \
            (work / "emulator.log").read_text()[-3000:]
        time.sleep(0.1)
    errors = {p.name: p.read_text() for p in out.glob("*.err")}
    assert parent["status"] == "SUCCEEDED", (parent.get("statusReason"), errors)
    resolved = {p.name: p.read_text() for p in out.iterdir() if not p.name.endswith(".err")}
    assert resolved == {"child_0": "4\n", "child_1": "9\n", "child_2": "10\n"}, errors
    assert set(errors.values()) == {""}
