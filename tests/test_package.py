"""spotkit.package: deterministic, self-contained Lambda zips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from spotkit import package

REPO = Path(__file__).resolve().parents[1]
RESUBMIT = REPO / "functions" / "resubmit"
EVENTS = Path(__file__).resolve().parent / "events"


@pytest.fixture(scope="module")
def cache_dir():
    """Shared vendor cache (pip runs once per requirements.txt + Python version)."""
    return package.VENDOR_CACHE_DIR


@pytest.fixture
def function_copy(tmp_path):
    """A copy of functions/resubmit, with stray bytecode that must not be packaged."""
    src = tmp_path / "src" / "resubmit"
    shutil.copytree(RESUBMIT, src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00junk")
    (src / "stray.pyc").write_bytes(b"\x00junk")
    return src


def test_two_builds_are_byte_identical(function_copy, tmp_path, cache_dir):
    first = package.build(function_copy, tmp_path / "a", cache_dir=cache_dir)
    # Touch every source file: mtimes must not leak into the zip.
    for f in function_copy.rglob("*"):
        os.utime(f, (1_900_000_000, 1_900_000_000))
    second = package.build(function_copy, tmp_path / "b", cache_dir=cache_dir)
    assert first.name == second.name == "resubmit.zip"
    assert first.read_bytes() == second.read_bytes()


def test_changed_source_changes_hash(function_copy, tmp_path, cache_dir):
    before = package.digest(package.build(function_copy, tmp_path / "out", cache_dir=cache_dir))
    with (function_copy / "app.py").open("a") as f:
        f.write("\n# a change\n")
    after = package.digest(package.build(function_copy, tmp_path / "out", cache_dir=cache_dir))
    assert before.sha256 != after.sha256
    assert before.path == after.path


def test_unchanged_zip_is_not_rewritten(function_copy, tmp_path, cache_dir):
    path = package.build(function_copy, tmp_path / "out", cache_dir=cache_dir)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    package.build(function_copy, tmp_path / "out", cache_dir=cache_dir)
    assert path.stat().st_mtime == 1_000_000_000
    assert [p.name for p in path.parent.iterdir()] == ["resubmit.zip"]  # no temp files left


def test_zip_layout(function_copy, tmp_path, cache_dir):
    path = package.build(function_copy, tmp_path / "out", cache_dir=cache_dir)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {"app.py", "reclaim.py", "aws_lambda_powertools/__init__.py"} <= set(names)
    assert "requirements.txt" not in names and "README.md" not in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if n.endswith(("/RECORD", "/INSTALLER", "/direct_url.json")) or n.startswith("bin/")]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}


def test_digest_matches_terraform_filebase64sha256(tmp_path):
    f = tmp_path / "x"
    f.write_bytes(b"hello")
    d = package.digest(f)
    assert d.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert d.sha256_b64 == "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    assert d.size == 5


def test_function_without_handler_is_an_error(tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(package.PackageError, match="no handler file"):
        package.build(tmp_path / "nothing", tmp_path / "out")


def test_build_all_discovers_functions(tmp_path, cache_dir):
    fdir = tmp_path / "functions"
    (fdir / "hello").mkdir(parents=True)
    (fdir / "hello" / "handler.py").write_text("def handler(event, context):\n    return 'hi'\n")
    (fdir / "not_a_function").mkdir()
    (fdir / "not_a_function" / "README.md").write_text("docs")
    zips = package.build_all(tmp_path / "out", fdir, cache_dir=cache_dir)
    assert [z.name for z in zips] == ["hello.zip"]
    with zipfile.ZipFile(zips[0]) as zf:
        assert zf.namelist() == ["handler.py"]


def test_cli_rejects_unknown_function():
    result = CliRunner().invoke(package.package_cmd, ["no-such-function"])
    assert result.exit_code == 2
    assert "unknown function(s) no-such-function" in result.output


def test_cli_prints_path_size_and_hashes(tmp_path):
    result = CliRunner().invoke(package.package_cmd, ["--out", str(tmp_path), "resubmit"])
    assert result.exit_code == 0, result.output
    d = package.digest(tmp_path / "resubmit.zip")
    assert d.sha256 in result.output and d.sha256_b64 in result.output and str(d.size) in result.output


# The Lambda Python runtime ships boto3 and its dependencies, nothing else.
_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py")

_RUNNER = """
import json, sys
import boto3
batch = boto3.client("batch")
iam = boto3.client("iam")
role = iam.create_role(RoleName="svc", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
ce = batch.create_compute_environment(computeEnvironmentName="spotkit-ce", type="UNMANAGED", serviceRole=role)
jq = batch.create_job_queue(jobQueueName="spotkit-q", state="ENABLED", priority=1, computeEnvironmentOrder=[
    {"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}])["jobQueueArn"]
props = {"image": "busybox", "command": ["true"], "vcpus": 1, "memory": 128}
jd = batch.register_job_definition(jobDefinitionName="spotkit-d", type="container",
                                   containerProperties=props)["jobDefinitionArn"]
event = json.load(open(sys.argv[1]))
event["detail"].update(jobQueue=jq, jobDefinition=jd)

import app, aws_lambda_powertools
class Ctx:
    function_name = "spotkit-resubmit"; memory_limit_in_mb = 128; aws_request_id = "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:spotkit-resubmit"
    def get_remaining_time_in_millis(self): return 60000
result = app.handler(event, Ctx())
new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
print(json.dumps({"result": result, "tags": new["tags"], "powertools": aws_lambda_powertools.__file__,
                  "app": app.__file__}))
"""


def test_extracted_zip_runs_handler_against_moto_server(tmp_path, cache_dir):
    from moto.server import ThreadedMotoServer

    zip_path = package.build(RESUBMIT, tmp_path / "out", cache_dir=cache_dir)
    task = tmp_path / "task"  # like /var/task
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task)
    runtime = tmp_path / "runtime"  # like the runtime's bundled boto3
    runtime.mkdir()
    site = Path(__import__("boto3").__file__).resolve().parents[1]
    for name in _RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    (tmp_path / "runner.py").write_text(_RUNNER)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{task}{os.pathsep}{runtime}",
               "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        # -S: no site-packages, so nothing outside the zip and the runtime's boto3 is importable.
        proc = subprocess.run([sys.executable, "-S", str(tmp_path / "runner.py"), str(EVENTS / "spot_reclaim.json")],
                              check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["result"]["decision"] == "resubmitted"
    assert out["tags"]["spotkit:resubmission-count"] == "1"
    assert out["powertools"].startswith(str(task)) and out["app"].startswith(str(task))
