"""``spotkit scan`` (scripts/spotkit/scan.py, docs/scanning.md): checkov over the kit, offline.

The kit itself must scan clean: this is what fails CI on a new finding. checkov runs twice per
session (the kit, and a deliberately bad fixture); everything else is input checks that end
before checkov starts. Where the machine allows it (root, util-linux unshare) the kit scan runs in
a network namespace with no network at all, so a call out would fail the scan.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
from junitparser import JUnitXml

REPO = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = Path(__file__).resolve().parent / "scan" / "sarif-schema-2.1.0.json"
SKIP_RE = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def _no_network_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    return []


@pytest.fixture(scope="session", autouse=True)
def checkov_tool_venv():
    """checkov's tool venv (spotkit.scantools), built before any scan: the kit scan runs with no network."""
    from spotkit import scantools

    return scantools.ensure()


def spotkit_scan(*args: str, cwd: Path = REPO, offline_ns: bool = False, timeout: int = 300):
    cmd = [*(_no_network_prefix() if offline_ns else []), sys.executable, "-m", "spotkit.cli", "scan", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def validate_sarif(path: Path) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(doc)
    assert doc["version"] == "2.1.0"
    return doc


@pytest.fixture(scope="session")
def kit_scan(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit-scan")
    proc = spotkit_scan("--format", "cli,sarif,junitxml", "--output-dir", str(out), offline_ns=True)
    return proc, out


@pytest.fixture(scope="session")
def bad_scan(tmp_path_factory):
    """A folder of ordinary, non-compliant Terraform: an unencrypted queue, a Lambda without tracing
    and with a password in its environment (a check whose finding carries details)."""
    root = tmp_path_factory.mktemp("bad-terraform")
    (root / "main.tf").write_text(textwrap.dedent("""\
        resource "aws_sqs_queue" "plain" {
          name = "plain"
        }

        resource "aws_lambda_function" "plain" {
          function_name = "plain"
          role          = "arn:aws:iam::123456789012:role/plain"
          filename      = "plain.zip"
          handler       = "app.handler"
          runtime       = "python3.12"

          environment {
            variables = { DB_PASSWORD = "not-a-real-password" }
          }
        }
        """))
    out = tmp_path_factory.mktemp("bad-scan")
    proc = spotkit_scan(str(root), "--format", "sarif", "--format", "junitxml", "--output-dir", str(out))
    return proc, out


# ----------------------------------------------------------------------------- the kit

def test_the_kit_scans_clean(kit_scan):
    proc, out = kit_scan
    assert proc.returncode == 0, f"new checkov finding(s) in the kit:\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()
    assert any(line.startswith("spotkit scan: clean: ") and " 0 failed" in line for line in last), proc.stderr
    # progress names what is scanned, and the kit's own policies ran
    assert "on the kit (modules/, terraform/" in proc.stderr
    assert "spotkit policies" in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["results_cli.txt", "results_junitxml.xml", "results_sarif.sarif"]


def test_kit_sarif_is_valid_sarif_2_1_0(kit_scan):
    _, out = kit_scan
    doc = validate_sarif(out / "results_sarif.sarif")
    assert doc["runs"][0]["tool"]["driver"]["name"] == "Checkov"
    # the only results are the inline skips, as SARIF in-source suppressions with their reason
    results = doc["runs"][0]["results"]
    assert results, "expected the kit's inline skips as suppressed results"
    for r in results:
        assert [s["kind"] for s in r["suppressions"]] == ["inSource"], r["ruleId"]
        assert len(r["suppressions"][0]["justification"]) >= 40, r["ruleId"]


def test_kit_junit_is_read_by_junitparser(kit_scan):
    _, out = kit_scan
    xml = JUnitXml.fromfile(str(out / "results_junitxml.xml"))
    xml.update_statistics()
    assert xml.tests > 100  # every passed and skipped check is a test case
    assert xml.failures == 0 and xml.errors == 0
    assert xml.skipped > 0  # the inline skips


def test_every_inline_skip_in_the_kit_gives_a_reason():
    skips = []
    for tf in sorted([*REPO.glob("modules/**/*.tf"), *REPO.glob("terraform/**/*.tf"), *REPO.glob("examples/**/*.tf")]):
        for n, line in enumerate(tf.read_text(encoding="utf-8").splitlines(), 1):
            m = SKIP_RE.search(line)
            if m:
                skips.append((f"{tf.relative_to(REPO)}:{n}", m.group(1), (m.group(2) or "").strip()))
    assert skips, "expected the kit's documented skips"
    short = [s for s in skips if len(s[2]) < 40]
    assert not short, f"a skip needs a reason a reviewer can accept: {short}"
    documented = (REPO / "docs" / "scanning.md").read_text(encoding="utf-8")
    missing = sorted({cid for _, cid, _ in skips if cid not in documented})
    assert not missing, f"docs/scanning.md does not list: {missing}"


# ----------------------------------------------------------------------------- findings

def test_a_bad_folder_fails_with_valid_reports(bad_scan):
    proc, out = bad_scan
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "spotkit scan: FAILED: " in proc.stderr
    doc = validate_sarif(out / "results_sarif.sarif")
    results = {r["ruleId"]: r for r in doc["runs"][0]["results"]}
    assert {"CKV_AWS_27", "CKV_AWS_50", "CKV_SPOTKIT_6"} <= set(results)  # queue, X-Ray, secret in env
    # checkov writes a finding's details as schema-invalid attachments; spotkit scan moves them
    # into the message
    assert "DB_PASSWORD" in results["CKV_SPOTKIT_6"]["message"]["text"]
    xml = JUnitXml.fromfile(str(out / "results_junitxml.xml"))
    xml.update_statistics()
    assert xml.failures >= 2


def test_reports_of_several_paths_merge_into_one_valid_file(tmp_path):
    from spotkit.scan import merge_junit, merge_sarif

    run = {"tool": {"driver": {"name": "Checkov", "version": "3.3.30", "rules": []}}, "results": []}
    sarif = []
    for i in range(2):
        p = tmp_path / f"{i}.sarif"
        p.write_text(json.dumps({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
                                 "runs": [run]}))
        sarif.append(p)
    merged = tmp_path / "merged.sarif"
    merged.write_text(merge_sarif(sarif))
    assert len(validate_sarif(merged)["runs"]) == 2

    junit = []
    for i in range(2):
        p = tmp_path / f"{i}.xml"
        p.write_text(f'<testsuites><testsuite name="s{i}" tests="2" failures="1" errors="0" skipped="0">'
                     f'<testcase name="a{i}"/><testcase name="b{i}"><failure message="x"/></testcase>'
                     "</testsuite></testsuites>")
        junit.append(p)
    merged_xml = tmp_path / "merged.xml"
    merged_xml.write_text(merge_junit(junit))
    xml = JUnitXml.fromfile(str(merged_xml))
    xml.update_statistics()
    assert (xml.tests, xml.failures) == (4, 2)


# ----------------------------------------------------------------------------- bad input

def _one_line_error(proc) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_a_path_that_does_not_exist_is_one_line(tmp_path):
    missing = tmp_path / "nope"
    line = _one_line_error(spotkit_scan(str(missing)))
    assert line == f"spotkit scan: no such file or directory: {missing}"


def test_a_malformed_tf_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "ok.tf").write_text('resource "aws_sqs_queue" "q" {\n  name = "q"\n}\n')
    (tmp_path / "broken.tf").write_text('resource "aws_sqs_queue" "q2" {\n  name = \n}\n')
    line = _one_line_error(spotkit_scan(".", cwd=tmp_path))
    assert line.startswith("spotkit scan: broken.tf:2:"), line
    assert "HCL parse error" in line


def test_a_malformed_tf_json_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "main.tf.json").write_text('{"resource": {')
    line = _one_line_error(spotkit_scan(str(tmp_path / "main.tf.json")))
    assert "main.tf.json:1:" in line and "invalid JSON" in line


def test_an_unknown_format_is_a_usage_error():
    proc = spotkit_scan("--format", "cli,html")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'html' is not one of cli, sarif, junitxml" in proc.stderr


def test_policies_dir_prints_the_kit_policies_directory():
    proc = spotkit_scan("--policies-dir")
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.is_dir() and path.is_absolute()
    assert any(path.glob("ckv_spotkit_*.py"))


def test_a_missing_spotkit_checkov_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "ok.tf").write_text('resource "aws_sqs_queue" "q" {\n  name = "q"\n}\n')
    monkeypatch.setenv("SPOTKIT_CHECKOV", str(tmp_path / "no-checkov"))
    line = _one_line_error(spotkit_scan(str(tmp_path)))
    assert line == f"spotkit scan: no checkov to run: SPOTKIT_CHECKOV={tmp_path / 'no-checkov'}: no such executable"
