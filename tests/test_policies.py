"""spotkit's checkov policies (scripts/spotkit/policies, docs/policies.md) on their fixtures.

tests/policies/CKV_SPOTKIT_<n>/pass*/ must not fail CKV_SPOTKIT_<n> (a skip comment counts as not
failing) and must report it; .../fail*/ must fail it. tests/policies/plain-batch/ is ordinary
Batch-on-Spot Terraform the kit did not write: it must report every Spot-readiness problem it has.
checkov runs once, as a subprocess from its tool venv (spotkit.scantools: ~/.cache/spotkit/checkov/,
built first when missing; SPOTKIT_CHECKOV names another), offline (--skip-download, no update
check), from a temporary directory so no .checkov.yaml of the repository applies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from spotkit import scantools
from spotkit.policies import policies_dir

ROOT = Path(__file__).resolve().parent
FIXTURES = ROOT / "policies"

# Every problem the plain-batch example has (CKV_SPOTKIT_13 needs an SQS queue, which it has not).
PLAIN_BATCH_EXPECTED = {f"CKV_SPOTKIT_{n}" for n in (1, 3, 4, 6, 7, 8, 9, 10, 11, 12)}


def _policy_ids() -> list[str]:
    ids = []
    for path in policies_dir().iterdir():
        if path.name.startswith("ckv_spotkit_") and path.suffix in (".py", ".yaml"):
            ids.append("CKV_SPOTKIT_" + path.stem.rsplit("_", 1)[1])
    return sorted(ids, key=lambda i: int(i.rsplit("_", 1)[1]))


POLICY_IDS = _policy_ids()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], set[str]]:
    """{(fixture directory relative to tests/policies, check id): {PASSED, FAILED, SKIPPED, ...}}."""
    checkov = scantools.ensure()  # the tool venv (built on first use), never this interpreter
    work = tmp_path_factory.mktemp("checkov")
    # checkov treats sibling directories of one -d as one scan; copy each fixture to its own
    # directory name so results map back unambiguously, and keep them apart from any config.
    scan = work / "scan"
    shutil.copytree(FIXTURES, scan)
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE", "LOG_LEVEL": "ERROR"}
    env.pop("BC_API_KEY", None)
    proc = subprocess.run(
        [*checkov.command, "--skip-download", "--framework", "terraform", "--external-checks-dir", str(policies_dir()),
         "--check", ",".join(POLICY_IDS), "-d", str(scan), "-o", "json", "--compact"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rep in reports:
        for key, status in (("passed_checks", "PASSED"), ("failed_checks", "FAILED"), ("skipped_checks", "SKIPPED")):
            for item in rep.get("results", {}).get(key, []):
                rel = Path(item["file_abs_path"]).resolve().relative_to(scan.resolve()).parent
                out[(str(rel), item["check_id"])].add(status)
    return out


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for check_id in POLICY_IDS:
        for sub in sorted((FIXTURES / check_id).iterdir()):
            if sub.is_dir():
                cases.append((check_id, sub.name, "fail" if sub.name.startswith("fail") else "pass"))
    return cases


def test_every_policy_has_a_passing_and_a_failing_fixture() -> None:
    assert len(POLICY_IDS) >= 13
    for check_id in POLICY_IDS:
        kinds = {p.name.split("-")[0] for p in (FIXTURES / check_id).iterdir() if p.is_dir()}
        assert {"pass", "fail"} <= kinds, check_id


@pytest.mark.parametrize(("check_id", "case", "expect"), _cases())
def test_policy_fixture(results: dict, check_id: str, case: str, expect: str) -> None:
    got = results.get((f"{check_id}/{case}", check_id), set())
    if expect == "fail":
        assert "FAILED" in got, f"{check_id} did not fail on {case}: {got}"
    else:
        assert got and "FAILED" not in got, f"{check_id} on {case}: {got}"


def test_plain_batch_reports_spot_readiness_problems(results: dict) -> None:
    failed = {cid for (where, cid), got in results.items() if where == "plain-batch" and "FAILED" in got}
    assert failed == PLAIN_BATCH_EXPECTED


def test_spotkit_never_imports_checkov() -> None:
    """checkov lives in its own tool venv: the policies package and spotkit scan must not import it."""
    code = ("import sys, spotkit.policies, spotkit.scan, spotkit.cli; spotkit.policies.policies_dir(); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('checkov', 'bc_jsonpath_ng')); "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_policies_dir_is_a_package_with_every_policy() -> None:
    d = policies_dir()
    assert (d / "__init__.py").is_file()
    assert {p.suffix for p in d.glob("ckv_spotkit_*")} == {".py", ".yaml"}
