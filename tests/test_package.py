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
    assert {"app.py", "stages.py", "spotkit/core/decide.py", "spotkit/runtime.py",
            "aws_lambda_powertools/__init__.py"} <= set(names)
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
        assert zf.namelist() == sorted(["handler.py", *package.spotkit_files()])
    assert "spotkit/core/decide.py" in package.spotkit_files()  # the decision core goes into every zip


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
job = batch.submit_job(jobName="backtest", jobQueue=jq, jobDefinition=jd, tags={"team": "quant"})
arn = job["jobArn"]
event["detail"].update(jobQueue=jq, jobDefinition=jd, jobId=job["jobId"], jobArn=arn, tags={"resourceArn": arn})

import app, aws_lambda_powertools
class Ctx:
    function_name = "spotkit-resubmit"; memory_limit_in_mb = 128; aws_request_id = "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:spotkit-resubmit"
    def get_remaining_time_in_millis(self): return 60000
result = app.handler(event, Ctx())
new = batch.describe_jobs(jobs=[result["newJobId"]])["jobs"][0]
import spotkit.core
print(json.dumps({"result": result, "tags": new["tags"], "powertools": aws_lambda_powertools.__file__,
                  "app": app.__file__, "core": spotkit.core.__file__}))
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
    assert out["tags"]["team"] == "quant" and out["tags"]["spotkit:lineage"].startswith("count=1 ")
    assert out["powertools"].startswith(str(task)) and out["app"].startswith(str(task))
    assert out["core"].startswith(str(task))  # vendored, not loaded from the checkout


# ----------------------------------------------------------------------------- --compile-for

RUNNING = f"python{sys.version_info[0]}.{sys.version_info[1]}"
OTHER = f"python3.{sys.version_info[1] + 1}"
TAG = sys.implementation.cache_tag

# Records every module the import system compiles from source (SourceLoader.source_to_code is only
# called when no usable pyc exists), imports app, and reports where each task module came from.
_IMPORT_PROBE = """
import importlib._bootstrap_external as ext, json, sys
task = sys.argv[1]
compiled = []
original = ext.SourceLoader.source_to_code
def source_to_code(self, data, path, *, _optimize=-1):
    compiled.append(path)
    return original(self, data, path, _optimize=_optimize)
ext.SourceLoader.source_to_code = source_to_code
import app
mods = {name: m.__spec__.cached for name, m in list(sys.modules.items())
        if getattr(m, "__file__", None) and m.__file__.startswith(task)}
print(json.dumps({"compiled": [p for p in compiled if p.startswith(task)], "modules": mods,
                  "classify_file": sys.modules["spotkit.core.classify"].classify.__code__.co_filename}))
"""


def _import_from_read_only_task(zip_path: Path, tmp_path: Path) -> dict:
    """Extract ``zip_path`` into a read-only folder (like /var/task) and import app there in a fresh
    ``python -S -B`` with only the runtime's boto3 besides; return what :data:`_IMPORT_PROBE` saw.

    chmod makes the folder read-only for a normal user; root ignores that, so ``-B`` (write no
    bytecode) keeps the interpreter from caching what it compiles there either way."""
    task = tmp_path / "task"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site = Path(__import__("boto3").__file__).resolve().parents[1]
    for name in _RUNTIME_PACKAGES + ("jmespath",):
        (runtime / name).symlink_to(site / name)
    dirs = [task, *(p for p in task.rglob("*") if p.is_dir())]
    for d in dirs:
        d.chmod(0o555)
    try:
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{task}{os.pathsep}{runtime}",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_SERVICE_NAME": "spotkit-resubmit"}
        proc = subprocess.run([sys.executable, "-S", "-B", "-c", _IMPORT_PROBE, str(task)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        return {**json.loads(proc.stdout.strip().splitlines()[-1]), "task": str(task)}
    finally:
        for d in dirs:
            d.chmod(0o755)


def test_compiled_builds_are_byte_identical(function_copy, tmp_path, cache_dir):
    first = package.build(function_copy, tmp_path / "a", cache_dir=cache_dir, compile_for=RUNNING)
    # Another location and other mtimes: neither may leak into the pycs.
    moved = tmp_path / "elsewhere" / "deeper" / "resubmit"
    shutil.copytree(function_copy, moved)
    for f in moved.rglob("*"):
        os.utime(f, (1_900_000_000, 1_900_000_000))
    second = package.build(moved, tmp_path / "b", cache_dir=cache_dir, compile_for=RUNNING)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:  # no build path inside any entry (entries are deflated: read them)
        assert not [n for n in zf.namelist() if str(tmp_path).encode() in zf.read(n)]


def test_compiled_zip_has_one_hash_based_pyc_per_module(function_copy, tmp_path, cache_dir):
    source = package.build(function_copy, tmp_path / "src", cache_dir=cache_dir)
    path = package.build(function_copy, tmp_path / "pyc", cache_dir=cache_dir, compile_for=RUNNING)
    with zipfile.ZipFile(source) as zf:
        source_names = zf.namelist()
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        app_pyc = zf.read(f"__pycache__/app.{TAG}.pyc")
        infos = zf.infolist()
    assert names == sorted(names)
    pycs = {n for n in names if n.endswith(".pyc")}
    py = [n for n in source_names if n.endswith(".py")]
    assert pycs == {package._pyc_name(n) for n in py}  # every .py, nothing else, this Python's tag
    assert set(names) - pycs == set(source_names)  # the same files otherwise
    assert "aws_lambda_powertools/__pycache__/__init__.%s.pyc" % TAG in pycs
    import importlib.util
    assert app_pyc[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(app_pyc[4:8], "little") == 0b01  # hash-based, unchecked: no mtime, source not read
    assert app_pyc[8:16] == importlib.util.source_hash((function_copy / "app.py").read_bytes())
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_compiled_zip_imports_without_compiling_from_a_read_only_task(tmp_path, cache_dir):
    compiled = _import_from_read_only_task(
        package.build(RESUBMIT, tmp_path / "pyc", cache_dir=cache_dir, compile_for=RUNNING), tmp_path / "pyc")
    assert compiled["compiled"] == []
    task = compiled["task"]
    assert {"app", "stages", "ledger", "spotkit.core.classify", "aws_lambda_powertools"} <= set(compiled["modules"])
    for name, cached in compiled["modules"].items():
        assert cached and Path(cached).is_file(), name
    # Code objects name the real file (not the zip-relative path they were compiled with).
    assert compiled["classify_file"] == f"{task}/spotkit/core/classify.py"

    # The control: the default zip, same probe, compiles every one of those modules on import.
    source = _import_from_read_only_task(package.build(RESUBMIT, tmp_path / "src", cache_dir=cache_dir),
                                         tmp_path / "src")
    assert {f"{source['task']}/app.py", f"{source['task']}/spotkit/core/classify.py"} <= set(source["compiled"])
    assert len(source["compiled"]) >= len(compiled["modules"])
    assert not [p for p in Path(source["task"]).rglob("__pycache__")]


def test_compile_for_another_python_is_refused(tmp_path):
    with pytest.raises(package.PackageError, match=f"{OTHER} bytecode needs {OTHER}"):
        package.build(RESUBMIT, tmp_path / "out", compile_for=OTHER)
    result = CliRunner().invoke(package.package_cmd, ["--out", str(tmp_path), "--compile-for", OTHER, "resubmit"])
    assert result.exit_code == 2
    assert f"Run `spotkit package --compile-for {OTHER}` with {OTHER}" in result.output
    assert not (tmp_path / "resubmit.zip").exists()


@pytest.mark.parametrize("value", ["3.12", "python3", "python2.7", "python3.12.1", "cpython-312", "Python3.12"])
def test_compile_for_takes_a_runtime_name(tmp_path, value):
    result = CliRunner().invoke(package.package_cmd, ["--out", str(tmp_path), "--compile-for", value])
    assert result.exit_code == 2
    assert "use the form python3.N" in result.output


def test_compile_for_from_the_environment(tmp_path, cache_dir):
    result = CliRunner().invoke(package.package_cmd, ["--out", str(tmp_path), "resubmit"],
                                env={"SPOTKIT_COMPILE_FOR": RUNNING})
    assert result.exit_code == 0, result.output
    assert f"bytecode for {RUNNING}" in result.output
    with zipfile.ZipFile(tmp_path / "resubmit.zip") as zf:
        assert f"__pycache__/app.{TAG}.pyc" in zf.namelist()
    refused = CliRunner().invoke(package.package_cmd, ["--out", str(tmp_path), "resubmit"],
                                 env={"SPOTKIT_COMPILE_FOR": OTHER})
    assert refused.exit_code == 2


def test_file_that_does_not_compile_gets_no_pyc(tmp_path):
    fdir = tmp_path / "functions" / "hello"
    fdir.mkdir(parents=True)
    (fdir / "handler.py").write_text("def handler(event, context):\n    return 'hi'\n")
    (fdir / "broken.py").write_text("def oops(:\n")
    path = package.build(fdir, tmp_path / "out", compile_for=RUNNING)
    with zipfile.ZipFile(path) as zf:
        own = [n for n in zf.namelist() if not n.startswith("spotkit/")]
        assert own == ["__pycache__/handler.%s.pyc" % TAG, "broken.py", "handler.py"]


def test_add_bytecode_matches_a_compiled_build(tmp_path, cache_dir):
    source = package.build(RESUBMIT, tmp_path / "src", cache_dir=cache_dir)
    compiled = package.build(RESUBMIT, tmp_path / "pyc", cache_dir=cache_dir, compile_for=RUNNING)
    out, skipped = package.add_bytecode(source, tmp_path / "added" / "resubmit.zip")
    assert skipped == []
    assert out.read_bytes() == compiled.read_bytes()
    again, _ = package.add_bytecode(compiled, tmp_path / "again.zip")  # existing pycs are replaced, not doubled
    assert again.read_bytes() == compiled.read_bytes()
