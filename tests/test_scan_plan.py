"""``spotkit scan --plan ENV`` and what the CKV_SPOTKIT checks can resolve (docs/scanning.md).

checkov drops UNKNOWN results from every report, so the measurements here run checkov through
tests/scan/checkov_results.py, which records every result checkov computes, UNKNOWN included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import emulator_process, free_port
from spotkit import scantools
from spotkit.policies import policies_dir

REPO = Path(__file__).resolve().parents[1]
RECORDER = Path(__file__).resolve().parent / "scan" / "checkov_results.py"
SARIF_SCHEMA = Path(__file__).resolve().parent / "scan" / "sarif-schema-2.1.0.json"
#: The resource checks about the kit's compute environments, job queues and job definition.
RESOURCE_CHECKS = [f"CKV_SPOTKIT_{n}" for n in range(1, 10)]
BATCH_TYPES = ("aws_batch_compute_environment", "aws_batch_job_queue", "aws_batch_job_definition")


def spotkit(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spotkit.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def checkov_results(tmp_path: Path, *checkov_args: str) -> list[dict]:
    """Every result checkov computes ({check_id, resource, result, ...}), UNKNOWN included."""
    tool = scantools.ensure()
    if list(tool.command[-2:]) != ["-m", "checkov.main"]:
        pytest.skip(f"needs checkov's Python to record UNKNOWN results, not {tool.source}")
    out = tmp_path / "results.jsonl"
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE", "LOG_LEVEL": "ERROR"}
    env.pop("BC_API_KEY", None)
    proc = subprocess.run([tool.command[0], str(RECORDER), str(out), "--", "--skip-download",
                           "--external-checks-dir", str(policies_dir()), "--check", ",".join(RESOURCE_CHECKS),
                           "-o", "json", *checkov_args], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _on_batch(results: list[dict]) -> list[dict]:
    """The results on Batch resources (address ``[module.<m>.]*<type>.<name>[<index>]``)."""
    return [r for r in results if r["resource"].split(".")[-2] in BATCH_TYPES]


# ----------------------------------------------------------------------------- fast: bad input

def test_plan_of_an_emulator_environment_needs_the_emulator():
    port = free_port()  # nothing listens there
    proc = spotkit("scan", "--plan", "local", env={"SPOTKIT_EMULATOR_PORT": str(port)})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"spotkit scan: --plan local: environment 'local' runs on the local emulator, which is not up on "
        f"127.0.0.1:{port}: start it with `spotkit local up` (or `make local-up`)"]


def test_plan_of_an_unknown_environment_is_one_line():
    proc = spotkit("scan", "--plan", "staging")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "spotkit scan: --plan staging: unknown environment 'staging'; settings.yaml defines: dev, local, prod"]


def test_plan_and_paths_do_not_mix():
    proc = spotkit("scan", "--plan", "local", "modules")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "spotkit scan: give either --plan ENV or PATH ..., not both"


def test_help_explains_plan():
    proc = spotkit("scan", "--help")
    assert proc.returncode == 0
    assert "--plan ENV" in proc.stdout and "terraform show -json" in proc.stdout and "spotkit local up" in proc.stdout


# ----------------------------------------------------------------------------- source: modules alone

@pytest.mark.parametrize("module", ["batch-compute", "job-queue"])
def test_a_child_module_scanned_alone_resolves_its_defaults(tmp_path, module):
    """A child module is a root of its own here: checkov renders its variable defaults, dynamic
    job_state_time_limit_action blocks included, so no CKV_SPOTKIT_1-9 result is UNKNOWN."""
    results = _on_batch(checkov_results(tmp_path, "--framework", "terraform", "-d", str(REPO / "modules" / module)))
    assert results, "expected CKV_SPOTKIT results on the module's resources"
    unknown = sorted({(r["check_id"], r["resource"]) for r in results if r["result"] == "UNKNOWN"})
    assert not unknown
    if module == "job-queue":  # the dynamic blocks over the default list are recognised
        assert {(r["check_id"], r["result"]) for r in results} >= {("CKV_SPOTKIT_8", "PASSED")}


# ----------------------------------------------------------------------------- the plan of local

@pytest.fixture(scope="module")
def local_plan(tmp_path_factory):
    """``spotkit scan --plan local`` against an emulator of its own (free port), with its plan kept."""
    work = tmp_path_factory.mktemp("plan-emulator")
    assert spotkit("package").returncode == 0
    with emulator_process(work) as emulator:
        port = emulator.endpoint.rsplit(":", 1)[1]
        out = tmp_path_factory.mktemp("plan-scan")
        proc = spotkit("scan", "--plan", "local", "--format", "cli,sarif,junitxml", "--output-dir", str(out),
                       env={"SPOTKIT_EMULATOR_PORT": port})
        plan = tmp_path_factory.mktemp("plan-json") / "tfplan.json"
        code = ("import json, sys; from spotkit import tf; "
                "json.dump(tf.plan_json('local'), open(sys.argv[1], 'w'))")
        made = subprocess.run([sys.executable, "-c", code, str(plan)], cwd=REPO, capture_output=True, text=True,
                              timeout=600, env={**os.environ, "SPOTKIT_EMULATOR_PORT": port})
        assert made.returncode == 0, made.stderr[-3000:]
    return proc, out, plan


@pytest.mark.integration
def test_scan_plan_local_reports_like_spotkit_scan(local_plan):
    proc, out, _ = local_plan
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "on the plan of environment 'local' (terraform show -json), terraform_plan" in proc.stderr
    summary = proc.stderr.strip().splitlines()[-2 if "wrote" in proc.stderr else -1]
    assert summary.startswith(("spotkit scan: clean: ", "spotkit scan: FAILED: ")), summary
    assert proc.returncode == (1 if summary.startswith("spotkit scan: FAILED") else 0)
    doc = json.loads((out / "results_sarif.sarif").read_text())
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text())).validate(doc)
    assert sorted(p.name for p in out.iterdir()) == ["results_cli.txt", "results_junitxml.xml", "results_sarif.sarif"]


@pytest.mark.integration
def test_no_spotkit_check_is_unknown_on_the_plan_of_local(local_plan, tmp_path):
    """In the plan every value is resolved: each of CKV_SPOTKIT_1-9 that applies to the kit's compute
    environments, job queues and job definition passes or fails, none is UNKNOWN."""
    _, _, plan = local_plan
    results = _on_batch(checkov_results(tmp_path, "--framework", "terraform_plan", "-f", str(plan)))
    seen = {(r["check_id"], r["resource"].split(".")[-2]) for r in results}
    for check, rtype in [("CKV_SPOTKIT_1", "aws_batch_job_definition"), ("CKV_SPOTKIT_2", "aws_batch_job_definition"),
                         ("CKV_SPOTKIT_3", "aws_batch_compute_environment"),
                         ("CKV_SPOTKIT_4", "aws_batch_compute_environment"),
                         ("CKV_SPOTKIT_5", "aws_batch_compute_environment"),
                         ("CKV_SPOTKIT_7", "aws_batch_job_definition"), ("CKV_SPOTKIT_8", "aws_batch_job_queue"),
                         ("CKV_SPOTKIT_9", "aws_batch_job_definition")]:
        assert (check, rtype) in seen, (check, rtype)
    unknown = sorted({(r["check_id"], r["resource"]) for r in results if r["result"] == "UNKNOWN"})
    assert not unknown
    by = {(r["check_id"], r["resource"]): r["result"] for r in results}
    # what the kit's settings choose is what the checks now see
    assert by[("CKV_SPOTKIT_1", "module.spotkit.module.job_definition.aws_batch_job_definition.this[0]")] == "PASSED"
    # the plan holds "" for the unset conditions of each evaluate_on_exit entry: still the catch-all EXIT
    assert by[("CKV_SPOTKIT_2", "module.spotkit.module.job_definition.aws_batch_job_definition.this[0]")] == "PASSED"
    assert by[("CKV_SPOTKIT_3", "module.spotkit.module.compute.aws_batch_compute_environment.spot[0]")] == "PASSED"
    assert by[("CKV_SPOTKIT_8", "module.spotkit.module.spot_queue.aws_batch_job_queue.this[0]")] == "PASSED"
