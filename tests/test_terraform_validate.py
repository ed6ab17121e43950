"""Terraform itself on the committed code: fmt, validate of every root, module input validation.

Uses the offline toolchain (`spotkit setup`: Terraform + hashicorp/aws 3.39.0 mirror). Works on a
copy of modules/ and terraform/ so the checkout's .terraform/ folders are left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from spotkit import envs, paths, toolchain

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def terraform():
    try:
        tc = toolchain.ensure(quiet=True)
    except toolchain.ToolchainError as exc:
        pytest.skip(f"Terraform toolchain not installable here: {exc}")
    env = {**os.environ, **tc.env()}

    def run(args, cwd, check=True):
        proc = subprocess.run([str(tc.terraform), *args], check=False, cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=300)
        if check and proc.returncode != 0:
            pytest.fail(f"terraform {' '.join(args)} in {cwd} exited {proc.returncode}:\n"
                        f"{proc.stdout}\n{proc.stderr}")
        return proc

    return run


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Copy of modules/, terraform/ and settings.yaml, without any .terraform/ or rendered file."""
    dst = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns(".terraform", "backend.tf", "providers.tf", "terraform.tfvars.json")
    shutil.copytree(REPO / "modules", dst / "modules", ignore=ignore)
    shutil.copytree(REPO / "terraform", dst / "terraform", ignore=ignore)
    shutil.copy(REPO / "settings.yaml", dst / "settings.yaml")
    return dst


@pytest.mark.parametrize("folder", ["modules", "terraform"])
def test_fmt_is_clean(terraform, folder):
    # one folder per call: Terraform 1.0's fmt takes at most one directory
    proc = terraform(["fmt", "-check", "-recursive", "-diff", folder], cwd=REPO, check=False)
    assert proc.returncode == 0, f"terraform fmt would change:\n{proc.stdout}"


@pytest.mark.parametrize("name", ["local", "dev", "prod"])
def test_root_validates_with_rendered_files(terraform, tree, name, monkeypatch):
    for attr, value in {"REPO_ROOT": tree, "SETTINGS_FILE": tree / "settings.yaml",
                        "TERRAFORM_DIR": tree / "terraform", "STATE_DIR": tree / ".spotkit",
                        "BUILD_DIR": tree / "build"}.items():
        monkeypatch.setattr(paths, attr, value)
    root = envs.render(name)
    # Rendered files must be fmt-clean too: `terraform fmt -check -recursive` runs over them.
    assert terraform(["fmt", "-check", "-diff", "."], cwd=root, check=False).returncode == 0
    terraform(["init", "-backend=false", "-input=false", "-lockfile=readonly", "-no-color"], cwd=root)
    proc = terraform(["validate", "-no-color"], cwd=root)
    assert "The configuration is valid" in proc.stdout


def _plan_module(terraform, tmp_path, module: str, arguments: str):
    """`terraform plan` a throwaway root calling ``module``; no AWS call is made before validation.

    Data sources that call AWS (aws_caller_identity) fail at once: STS points at a closed local port.
    """
    (tmp_path / "main.tf").write_text(textwrap.dedent(f"""\
        provider "aws" {{
          region                      = "us-east-1"
          access_key                  = "x"
          secret_key                  = "x"
          skip_credentials_validation = true
          skip_requesting_account_id  = true
          skip_metadata_api_check     = true
          skip_get_ec2_platforms      = true
          max_retries                 = 1
          endpoints {{
            sts = "http://127.0.0.1:9"
          }}
        }}
        module "m" {{
          source = "{REPO / 'modules' / module}"
        {textwrap.indent(arguments, '  ')}
        }}
        """))
    shutil.copy(REPO / "terraform" / "local" / ".terraform.lock.hcl", tmp_path)
    terraform(["init", "-backend=false", "-input=false", "-no-color"], cwd=tmp_path)
    return terraform(["plan", "-input=false", "-no-color", "-refresh=false"], cwd=tmp_path, check=False)


def test_job_definition_rejects_bad_evaluate_on_exit(terraform, tmp_path):
    proc = _plan_module(terraform, tmp_path, "job-definition", textwrap.dedent("""\
        name  = "x"
        image = "busybox"
        evaluate_on_exit = [{ action = "RETRY", on_status_reason = "Host EC2 (instance*" }]
        """))
    assert proc.returncode == 1
    assert "letters, digits" in proc.stderr


def test_job_definition_rejects_six_rules_and_eleven_attempts(terraform, tmp_path):
    rules = ", ".join(['{ action = "EXIT", on_exit_code = "1" }'] * 6)
    proc = _plan_module(terraform, tmp_path, "job-definition", textwrap.dedent(f"""\
        name             = "x"
        image            = "busybox"
        retry_attempts   = 11
        evaluate_on_exit = [{rules}]
        """))
    assert proc.returncode == 1
    assert "at most 5 evaluate_on_exit" in proc.stderr
    assert "between 1 and 10" in proc.stderr


def test_job_definition_default_retry_rules_plan(terraform, tmp_path):
    proc = _plan_module(terraform, tmp_path, "job-definition", 'name  = "x"\nimage = "busybox"\n')
    assert proc.returncode == 0, proc.stderr
    assert 'on_status_reason = "Host EC2*"' in proc.stdout
    assert 'on_reason = "*"' in proc.stdout


def _resubmit_arguments(extra: str = "") -> str:
    return textwrap.dedent(f"""\
        name                = "x"
        job_queue_arns      = ["arn:aws:batch:us-east-1:123456789012:job-queue/q"]
        job_definition_arns = ["arn:aws:batch:us-east-1:123456789012:job-definition/d:1"]
        lambda_zip_path     = "{REPO / 'pyproject.toml'}"
        lambda_runtime      = "python3.8"
        """) + textwrap.dedent(extra)


WINDOW_RULE = "maximum_batching_window_seconds must be at least 1 when batch_size is above 10"


def test_resubmit_rejects_a_large_batch_without_a_batching_window(terraform, tmp_path):
    proc = _plan_module(terraform, tmp_path, "spot-resubmit", _resubmit_arguments("""\
        batch_size                      = 100
        maximum_batching_window_seconds = 0
        """))
    assert proc.returncode == 1
    assert WINDOW_RULE in " ".join(proc.stderr.split())


def test_resubmit_accepts_a_large_batch_with_a_batching_window(terraform, tmp_path):
    proc = _plan_module(terraform, tmp_path, "spot-resubmit", _resubmit_arguments("""\
        batch_size                      = 100
        maximum_batching_window_seconds = 1
        maximum_concurrency             = 2
        """))
    stderr = " ".join(proc.stderr.split())
    # The plan got as far as reading the account (STS is unreachable on purpose), like the
    # rejected case above, and found nothing wrong with the inputs.
    assert "Error getting Caller Identity" in stderr
    assert WINDOW_RULE not in stderr and "Invalid value for variable" not in stderr


def test_resubmit_rejects_out_of_range_delivery_settings(terraform, tmp_path):
    proc = _plan_module(terraform, tmp_path, "spot-resubmit", _resubmit_arguments("""\
        batch_size                      = 10001
        maximum_batching_window_seconds = 301
        maximum_concurrency             = 1
        max_receive_count               = 0
        fallback_after_spot_losses      = 0
        """))
    assert proc.returncode == 1
    stderr = " ".join(proc.stderr.split())
    for message in ("batch_size must be a whole number between 1 and 10000",
                    "maximum_batching_window_seconds must be a whole number of seconds between 0 and 300",
                    "maximum_concurrency must be null or a whole number between 2 and 1000",
                    "max_receive_count must be a whole number between 1 and 1000",
                    "fallback_after_spot_losses must be a whole number >= 1"):
        assert message in stderr, message
