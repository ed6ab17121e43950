"""`terraform test` of every module and example, and `terraform validate` of every example.

The tests themselves are HCL: ``modules/<m>/tests/*.tftest.hcl`` and ``examples/<e>/tests/*.tftest.hcl``
plan (and mock-apply) against ``mock_provider "aws"``, so no AWS account or emulator is involved.
``mock_provider`` needs Terraform >= 1.7; the provider schema still comes from the real
hashicorp/aws, installed as every other test here installs it (``spotkit setup``: the filesystem
mirror, or the registry with SPOTKIT_PROVIDER_SOURCE=registry). Works on a copy of modules/ and
examples/, so the checkout gets no .terraform/ folder or lock file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from spotkit import toolchain

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(p.parent.name for p in (REPO / "modules").glob("*/main.tf"))
EXAMPLES = sorted(p.parent.name for p in (REPO / "examples").glob("*/main.tf"))
#: mock_provider blocks in .tftest.hcl files (Terraform 1.7.0 CHANGELOG).
MIN_TERRAFORM_TEST = (1, 7, 0)
RUN_RESULT = re.compile(r'^\s*run "([^"]+)"\.\.\. (pass|fail|skip|error)\s*$', re.M)


@pytest.fixture(scope="module")
def terraform():
    try:
        tc = toolchain.ensure(quiet=True)
    except toolchain.ToolchainError as exc:
        pytest.skip(f"no Terraform or hashicorp/aws provider to test with: {exc}")
    version = tuple(int(x) for x in tc.terraform_version.split("."))
    if version < MIN_TERRAFORM_TEST:
        pytest.skip(f"terraform test with mock_provider needs Terraform >= 1.7; this is {tc.terraform_version} "
                    "(SPOTKIT_TERRAFORM or PATH selects it)")
    env = {**os.environ, **tc.env()}
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)  # the mocks need none; make sure nothing reaches a real account

    def run(args, cwd):
        return subprocess.run([str(tc.terraform), *args], check=False, cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=600)

    return run


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Copy of modules/ and examples/ (the examples call ../../modules/...), without .terraform/."""
    dst = tmp_path_factory.mktemp("tftest")
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "terraform.tfstate*")
    for folder in ("modules", "examples"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, dst / folder, ignore=ignore)
    return dst


def _init(terraform, where: Path, label: str) -> None:
    proc = terraform(["init", "-backend=false", "-input=false", "-no-color"], where)
    if proc.returncode != 0:
        pytest.fail(f"{label}: terraform init -backend=false exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")


def _terraform_test(terraform, where: Path, label: str) -> list:
    """Run `terraform test`; fail naming every run that did not pass. Returns the passed run names."""
    _init(terraform, where, label)
    proc = terraform(["test", "-no-color"], where)
    results = RUN_RESULT.findall(proc.stdout)
    bad = [f'run "{name}" {status}' for name, status in results if status != "pass"]
    if proc.returncode != 0 or bad or not results:
        pytest.fail(f"{label}: terraform test exited {proc.returncode}; "
                    + (", ".join(bad) if bad else "no run reported")
                    + f"\n{proc.stdout}\n{proc.stderr}")
    return [name for name, _ in results]


def test_every_module_and_example_has_terraform_tests():
    missing = [f"{kind}/{name}" for kind, names in (("modules", MODULES), ("examples", EXAMPLES))
               for name in names if not list((REPO / kind / name / "tests").glob("*.tftest.hcl"))]
    assert MODULES, "no module found under modules/"
    assert not missing, f"no tests/*.tftest.hcl in: {', '.join(missing)}"


@pytest.mark.parametrize("module", MODULES)
def test_module(terraform, tree, module):
    runs = _terraform_test(terraform, tree / "modules" / module, f"modules/{module}")
    # Each file checks defaults and at least one rejected input (expect_failures).
    assert len(runs) >= 4, f"modules/{module}: only {runs}"


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_validates_and_plans(terraform, tree, example):
    where = tree / "examples" / example
    _init(terraform, where, f"examples/{example}")
    proc = terraform(["validate", "-no-color"], where)
    assert proc.returncode == 0 and "The configuration is valid" in proc.stdout, (
        f"examples/{example}: terraform validate exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    _terraform_test(terraform, where, f"examples/{example}")


def test_a_failing_run_is_reported_by_name(terraform, tmp_path):
    """The wrapper itself: a run whose assertion is false fails the test and is named."""
    (tmp_path / "main.tf").write_text('variable "x" {\n  type = number\n}\noutput "y" {\n  value = var.x + 1\n}\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.tftest.hcl").write_text(
        'run "adds_one" {\n  command = plan\n  variables {\n    x = 1\n  }\n'
        '  assert {\n    condition     = output.y == 2\n    error_message = "1 + 1"\n  }\n}\n'
        'run "wrong_on_purpose" {\n  command = plan\n  variables {\n    x = 1\n  }\n'
        '  assert {\n    condition     = output.y == 3\n    error_message = "not 3"\n  }\n}\n')
    with pytest.raises(pytest.fail.Exception) as failed:
        _terraform_test(terraform, tmp_path, "scratch")
    message = str(failed.value)
    assert 'scratch: terraform test exited 1; run "wrong_on_purpose" fail' in message
    assert '"adds_one" fail' not in message
