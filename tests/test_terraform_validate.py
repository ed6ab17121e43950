"""Terraform itself on the committed code: fmt, validate of every root, module input validation.

Uses the toolchain (`spotkit setup`: Terraform >= 1.5 + hashicorp/aws >= 5.77 from a mirror or the registry). Works on a
copy of modules/ and terraform/ so the checkout's .terraform/ folders are left alone.
"""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("folder", ["modules", "terraform", "examples"])
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
    # A committed lock file (the local root's) must hold what the configuration needs; dev and
    # prod commit none: their users lock the provider they install (docs/providers.md).
    lock = ["-lockfile=readonly"] if (REPO / "terraform" / name / ".terraform.lock.hcl").exists() else []
    assert bool(lock) == (name == "local")
    terraform(["init", "-backend=false", "-input=false", *lock, "-no-color"], cwd=root)
    proc = terraform(["validate", "-no-color"], cwd=root)
    assert "The configuration is valid" in proc.stdout


def _plan_module(terraform, tmp_path, module: str, arguments: str, sts: str = "http://127.0.0.1:9"):
    """`terraform plan` a throwaway root calling ``module``; no AWS call is made before validation.

    Data sources that call AWS (aws_caller_identity) fail at once: STS points at a closed local port
    unless ``sts`` names one that answers (the ``sts_endpoint`` fixture), so the plan reaches the
    resources' preconditions.
    """
    (tmp_path / "main.tf").write_text(textwrap.dedent(f"""\
        provider "aws" {{
          region                      = "us-east-1"
          access_key                  = "x"
          secret_key                  = "x"
          skip_credentials_validation = true
          skip_requesting_account_id  = true
          skip_metadata_api_check     = true
          max_retries                 = 1
          endpoints {{
            sts = "{sts}"
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
        lambda_runtime      = "python3.13"
        """) + textwrap.dedent(extra)


WINDOW_RULE = "maximum_batching_window_seconds must be at least 1 when batch_size is above 10"


def test_resubmit_rejects_a_large_batch_without_a_batching_window(terraform, tmp_path, sts_endpoint):
    proc = _plan_module(terraform, tmp_path, "spot-resubmit", _resubmit_arguments("""\
        batch_size                      = 100
        maximum_batching_window_seconds = 0
        """), sts=sts_endpoint)
    assert proc.returncode == 1
    assert WINDOW_RULE in " ".join(proc.stderr.split())


def test_resubmit_accepts_a_large_batch_with_a_batching_window(terraform, tmp_path, sts_endpoint):
    proc = _plan_module(terraform, tmp_path, "spot-resubmit", _resubmit_arguments("""\
        batch_size                      = 100
        maximum_batching_window_seconds = 1
        maximum_concurrency             = 2
        """), sts=sts_endpoint)
    assert proc.returncode == 0, proc.stderr
    assert "aws_lambda_event_source_mapping.this[0] will be created" in proc.stdout
    assert "maximum_concurrency = 2" in proc.stdout and "ReportBatchItemFailures" in proc.stdout


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


# ----------------------------------------------------------------------------------- chaos-fis

_STS_IDENTITY = (b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                 b"<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/plan</Arn>"
                 b"<UserId>AIDAPLAN</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
                 b"<ResponseMetadata><RequestId>plan</RequestId></ResponseMetadata></GetCallerIdentityResponse>")


@pytest.fixture(scope="module")
def sts_endpoint():
    """A local STS answering GetCallerIdentity only, so a module that reads the account plans fully."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(_STS_IDENTITY)))
            self.end_headers()
            self.wfile.write(_STS_IDENTITY)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _chaos_plan(terraform, tmp_path, sts: str, arguments: str = "") -> dict:
    """`terraform plan` of modules/chaos-fis (account from ``sts``) as `terraform show -json`."""
    (tmp_path / "main.tf").write_text(textwrap.dedent(f"""\
        provider "aws" {{
          region                      = "us-east-1"
          access_key                  = "x"
          secret_key                  = "x"
          skip_credentials_validation = true
          skip_requesting_account_id  = true
          skip_metadata_api_check     = true
          max_retries                 = 1
          endpoints {{
            sts = "{sts}"
          }}
        }}
        module "m" {{
          source                            = "{REPO / 'modules' / 'chaos-fis'}"
          name                              = "kit-chaos"
          compute_environment_readable_name = "kit-spot"
        {textwrap.indent(arguments, '  ')}
        }}
        output "templates" {{
          value = module.m.experiment_templates
        }}
        """))
    shutil.copy(REPO / "terraform" / "local" / ".terraform.lock.hcl", tmp_path)
    terraform(["init", "-backend=false", "-input=false", "-no-color"], cwd=tmp_path)
    terraform(["plan", "-input=false", "-no-color", "-refresh=false", "-out=plan.bin"], cwd=tmp_path)
    return json.loads(terraform(["show", "-json", "plan.bin"], cwd=tmp_path).stdout)


def _planned(plan: dict, address: str) -> dict:
    for res in plan["planned_values"]["root_module"]["child_modules"][0]["resources"]:
        if res["address"] == address:
            return res["values"]
    raise AssertionError(f"{address} is not in the plan")


DESTRUCTIVE = {"ec2:SendSpotInstanceInterruptions", "ec2:TerminateInstances"}


def _condition(statement: dict) -> dict:
    """A statement's Condition with every value as a list (IAM accepts a string for one value)."""
    return {op: {k: [v] if isinstance(v, str) else v for k, v in kv.items()}
            for op, kv in (statement.get("Condition") or {}).items()}


def test_chaos_fis_role_acts_only_on_opted_in_instances(terraform, tmp_path, sts_endpoint):
    plan = _chaos_plan(terraform, tmp_path, sts_endpoint)
    policy = json.loads(_planned(plan, "module.m.aws_iam_role_policy.fis[0]")["policy"])
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    granted = set()
    for st in statements:
        actions = {st["Action"]} if isinstance(st["Action"], str) else set(st["Action"])
        resources = {st["Resource"]} if isinstance(st["Resource"], str) else set(st["Resource"])
        assert st["Effect"] == "Allow" and "NotAction" not in st and "NotResource" not in st
        assert not any(a == "*" or a.endswith(":*") for a in actions), st
        if actions & DESTRUCTIVE:
            # The safety of the whole design: only instances of this account and Region that carry
            # the opt-in tag, whatever a template selects.
            assert resources == {"arn:aws:ec2:us-east-1:123456789012:instance/*"}, st
            assert _condition(st) == {"StringEquals": {"aws:ResourceTag/spotkit:chaos": ["opt-in"]}}, st
            granted |= actions & DESTRUCTIVE
        else:
            assert all(a.startswith("ec2:Describe") for a in actions), st
    assert granted == DESTRUCTIVE
    trust = json.loads(_planned(plan, "module.m.aws_iam_role.fis[0]")["assume_role_policy"])
    (st,) = trust["Statement"] if isinstance(trust["Statement"], list) else [trust["Statement"]]
    assert st["Principal"] == {"Service": "fis.amazonaws.com"}
    assert _condition(st) == {"StringEquals": {"aws:SourceAccount": ["123456789012"]}}


def _templates(plan: dict) -> dict:
    """The planned aws_fis_experiment_template resources, by template name."""
    return {k: _planned(plan, f'module.m.aws_fis_experiment_template.this["{k}"]')
            for k in ("spot-interruption", "terminate-instance")}


def test_chaos_fis_templates_target_opted_in_instances_and_keep_stop_conditions(terraform, tmp_path, sts_endpoint):
    plan = _chaos_plan(terraform, tmp_path, sts_endpoint)
    assert set(plan["planned_values"]["outputs"]["templates"]["value"]) == {"spot-interruption", "terminate-instance"}
    templates = _templates(plan)
    tags = [{"key": "spotkit:chaos", "value": "opt-in"}, {"key": "spotkit:compute-environment", "value": "kit-spot"}]
    (spot_action,) = templates["spot-interruption"]["action"]
    assert spot_action["action_id"] == "aws:ec2:send-spot-instance-interruptions"
    assert spot_action["parameter"] == [{"key": "durationBeforeInterruption", "value": "PT2M"}]
    assert spot_action["target"] == [{"key": "SpotInstances", "value": "SpotInstances"}]
    (term_action,) = templates["terminate-instance"]["action"]
    assert term_action["action_id"] == "aws:ec2:terminate-instances" and term_action["parameter"] == []
    assert term_action["target"] == [{"key": "Instances", "value": "Instances"}]
    types = {k: t["target"][0]["resource_type"] for k, t in templates.items()}
    assert types == {"spot-interruption": "aws:ec2:spot-instance", "terminate-instance": "aws:ec2:instance"}
    for t in templates.values():
        (target,) = t["target"]
        assert sorted(target["resource_tag"], key=lambda x: x["key"]) == tags
        assert target["selection_mode"] == "COUNT(1)" and not target.get("resource_arns")
        assert target["filter"] == [{"path": "State.Name", "values": ["running"]}]
        (stop,) = t["stop_condition"]
        assert stop["source"] == "none" and not stop["value"]  # the provider plans "" for the null value

    alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:slo"
    (tmp_path / "with-alarm").mkdir()
    templates = _templates(_chaos_plan(terraform, tmp_path / "with-alarm", sts_endpoint,
                                       f'stop_condition_alarm_arns = ["{alarm}"]\n'
                                       'selection_mode = "PERCENT(50)"\n'))
    for t in templates.values():
        assert t["stop_condition"] == [{"source": "aws:cloudwatch:alarm", "value": alarm}]
        assert t["target"][0]["selection_mode"] == "PERCENT(50)"


def test_chaos_fis_rejects_unsafe_inputs(terraform, tmp_path):
    proc = _plan_module(terraform, tmp_path, "chaos-fis", textwrap.dedent("""\
        name                         = "x"
        compute_environment_readable_name = "x-spot"
        selection_mode               = "COUNT(0)"
        duration_before_interruption = "PT1M"
        opt_in_tag                   = { "aws:chaos" = "opt-in" }
        stop_condition_alarm_arns    = ["not-an-arn"]
        """))
    assert proc.returncode == 1
    stderr = " ".join(proc.stderr.split())
    for message in ("selection_mode must be COUNT(n) with n >= 1",
                    "duration_before_interruption must be PT2M to PT15M", "opt_in_tag must hold exactly one",
                    "stop_condition_alarm_arns must be at most 4 CloudWatch alarm ARNs"):
        assert message in stderr, message
