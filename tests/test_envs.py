"""settings.yaml -> terraform/<env>/ rendering (spotkit.envs) and the tf command guards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from spotkit import envs, paths, tf

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A scratch checkout: settings.yaml, templates and lock files copied; paths point at it."""
    shutil.copy(REPO / "settings.yaml", tmp_path / "settings.yaml")
    shutil.copytree(REPO / "terraform" / "templates", tmp_path / "terraform" / "templates")
    for name in ("local", "dev", "prod"):
        (tmp_path / "terraform" / name).mkdir(parents=True)
        lock = REPO / "terraform" / name / ".terraform.lock.hcl"
        if lock.exists():  # only local commits one (dev/prod lock on their first init)
            shutil.copy(lock, tmp_path / "terraform" / name)
    for attr, value in {
        "REPO_ROOT": tmp_path,
        "SETTINGS_FILE": tmp_path / "settings.yaml",
        "TERRAFORM_DIR": tmp_path / "terraform",
        "STATE_DIR": tmp_path / ".spotkit",
        "BUILD_DIR": tmp_path / "build",
    }.items():
        monkeypatch.setattr(paths, attr, value)
    monkeypatch.setenv("SPOTKIT_EMULATOR_PORT", "4999")
    return tmp_path


def _read(root: Path) -> dict:
    return {
        "backend": (root / "backend.tf").read_text(),
        "providers": (root / "providers.tf").read_text(),
        "tfvars": json.loads((root / "terraform.tfvars.json").read_text()),
    }


def test_local_points_every_service_at_the_emulator_port(home):
    out = _read(envs.render("local"))
    providers = out["providers"]
    for key in envs.ENDPOINT_KEYS[5]:  # the local lock pins hashicorp/aws 5.x
        assert f'    {key} ' in providers, key
    assert providers.count('"http://127.0.0.1:4999"') == len(envs.ENDPOINT_KEYS[5])
    for flag in ("skip_credentials_validation", "skip_requesting_account_id", "skip_metadata_api_check",
                 "s3_use_path_style"):
        assert f"{flag}" in providers
    assert 'backend "local"' in out["backend"]
    assert str(home / ".spotkit" / "local-4999" / "terraform.tfstate") in out["backend"]
    assert (home / ".spotkit" / "local-4999").is_dir()
    tfvars = out["tfvars"]
    assert tfvars["name"] == "spotkit-local"
    assert tfvars["compute"]["instance_types"] == ["m5.large"]
    # vcpus is the module default (1): not rendered; memory is the kit's choice
    assert "vcpus" not in tfvars["job_definition"] and tfvars["job_definition"]["memory_mib"] == 512
    assert "Ref::seconds" in " ".join(tfvars["job_definition"]["command"])
    assert tfvars["lambda_zip_path"] == str(home / "build" / "resubmit.zip")
    assert tfvars["vpc_cidr"] and "subnet_ids" not in tfvars
    # Chaos stays quick: no batching window; the on-demand queue is the resubmit fallback.
    assert tfvars["resubmit"]["maximum_batching_window_seconds"] == 0
    assert tfvars["compute"]["create_on_demand"] is True
    assert "fallback_after_spot_losses" not in tfvars["resubmit"]  # modules/spot-resubmit's default (2)


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_real_environments_use_s3_and_no_endpoints(home, name):
    out = _read(envs.render(name))
    assert "endpoints" not in out["providers"] and "127.0.0.1" not in out["providers"]
    assert "skip_credentials_validation" not in out["providers"]
    assert "allowed_account_ids" in out["providers"]
    assert 'backend "s3"' in out["backend"]
    assert f'"spotkit/{name}/terraform.tfstate"' in out["backend"]
    assert "encrypt        = true" in out["backend"]
    tfvars = out["tfvars"]
    assert tfvars["subnet_ids"] and tfvars["security_group_ids"] and "vpc_cidr" not in tfvars
    resubmit = tfvars["resubmit"]
    # batch_size, the batching window, max_receive_count and alarms are modules/spot-resubmit's
    # defaults (10, 5 s, 5, on): not rendered, so the module's value applies
    assert not {"batch_size", "maximum_batching_window_seconds", "max_receive_count", "create_alarms"} & set(resubmit)
    assert resubmit["maximum_concurrency"] == 5
    # The mapping's concurrency cap must fit under the function's reserved concurrency.
    assert resubmit["maximum_concurrency"] <= resubmit.get("reserved_concurrent_executions", 1000)


def test_render_is_idempotent(home):
    root = envs.render("local")
    before = {p.name: p.stat().st_mtime_ns for p in root.iterdir() if p.is_file()}
    assert envs.render("local") == root
    after = {p.name: p.stat().st_mtime_ns for p in root.iterdir() if p.is_file()}
    assert after == before
    # A hand edit is overwritten by the next render.
    (root / "providers.tf").write_text("# edited\n")
    envs.render("local")
    assert "endpoints" in (root / "providers.tf").read_text()


def test_port_change_moves_state_and_endpoints(home, monkeypatch):
    envs.render("local")
    monkeypatch.setenv("SPOTKIT_EMULATOR_PORT", "4777")
    out = _read(envs.render("local"))
    assert "http://127.0.0.1:4777" in out["providers"] and "4999" not in out["providers"]
    assert "local-4777" in out["backend"]


def test_provider_5_gets_5x_endpoint_keys(home):
    lock = home / "terraform" / "local" / ".terraform.lock.hcl"
    lock.write_text(lock.read_text().replace('version     = "3.39.0"', 'version     = "5.31.0"'))
    providers = _read(envs.render("local"))["providers"]
    assert "    events " in providers and "    logs " in providers and "    cloudformation " in providers
    assert "cloudwatchevents" not in providers and "s3_force_path_style" not in providers
    assert "s3_use_path_style" in providers and "skip_get_ec2_platforms" not in providers


def test_unknown_environment_names_the_known_ones(home):
    with pytest.raises(envs.SettingsError) as exc:
        envs.load_environment("staging")
    assert "staging" in exc.value.message
    assert "dev, local, prod" in exc.value.message


def test_placeholders_listed_and_refused(home):
    assert envs.load_environment("local").placeholders() == []
    holes = envs.load_environment("dev").placeholders()
    assert "backend.bucket" in holes and "network.subnet_ids[0]" in holes
    with pytest.raises(envs.SettingsError, match="placeholder"):
        tf.plan("dev")


def test_environment_contract_used_by_aws_client(home):
    e = envs.load_environment("local")
    assert (e.region, e.emulator, e.root_dir) == ("us-east-1", True, home / "terraform" / "local")
    assert envs.load_environment("prod").emulator is False


def test_destroy_prod_needs_confirmation(home):
    result = CliRunner().invoke(tf.tf_group, ["destroy", "--env", "prod"])
    assert result.exit_code == 2
    assert "--i-know-this-is-prod" in result.output


@pytest.mark.parametrize("argv, target", [(["init"], "init"), (["plan"], "plan"), (["apply"], "apply"),
                                           (["destroy"], "destroy"), (["outputs"], "_output_json")])
def test_a_failed_terraform_run_exits_with_its_code_and_no_traceback(home, monkeypatch, argv, target):
    def _fail(env_name, *args, **kwargs):
        raise tf.TerraformFailed(argv[0], env_name, 3)

    monkeypatch.setattr(tf, target, _fail)
    result = CliRunner().invoke(tf.tf_group, [*argv, "--env", "local"])
    assert result.exit_code == 3
    assert f"terraform {argv[0]} failed for environment 'local' (exit code 3)" in result.output
    assert "Traceback" not in result.output


def test_env_cli_render_and_show(home):
    runner = CliRunner()
    result = runner.invoke(envs.env_group, ["render", "--env", "dev"])
    assert result.exit_code == 0, result.output
    assert (home / "terraform" / "dev" / "backend.tf").exists()
    result = runner.invoke(envs.env_group, ["show", "--env", "local"])
    assert result.exit_code == 0 and "vpc_cidr: 10.42.0.0/16" in result.output
    result = runner.invoke(envs.env_group, ["show", "--env", "nope"])
    assert result.exit_code == 1 and "unknown environment" in result.output


def test_chaos_settings_per_environment(home):
    local = _read(envs.render("local"))["tfvars"]["chaos"]
    assert local["create"] is True and local["opt_in"] is True
    assert "selection_mode" not in local  # modules/chaos-fis's default, COUNT(1)
    dev = _read(envs.render("dev"))["tfvars"]["chaos"]
    assert dev["create"] is True and dev["opt_in"] is True
    # prod: the templates exist with a required stop condition, but nothing is opted in.
    prod = _read(envs.render("prod"))["tfvars"]["chaos"]
    assert prod["create"] is True and prod["opt_in"] is False
    assert prod["create_stop_condition_alarm"] is True and prod["require_stop_condition"] is True


def test_chaos_required_stop_condition_refused_without_an_alarm(home):
    settings = home / "settings.yaml"
    text = settings.read_text()
    assert "      create_stop_condition_alarm: true   # a FAILED job" in text
    settings.write_text(text.replace("      create_stop_condition_alarm: true   # a FAILED job",
                                     "      create_stop_condition_alarm: false  # a FAILED job"))
    with pytest.raises(envs.SettingsError, match="require_stop_condition"):
        envs.render("prod")


def test_env_cli_reports_a_bad_key_in_one_line_per_problem(home):
    settings = home / "settings.yaml"
    text = settings.read_text()
    assert "      instance_types: [m5.large]\n" in text
    settings.write_text(text.replace("      instance_types: [m5.large]\n",
                                     "      instance_type: [m5.large]\n      max_vcpus: lots\n", 1))
    for argv in (["show", "--env", "local"], ["render", "--env", "local"]):
        result = CliRunner().invoke(envs.env_group, argv)
        assert result.exit_code == 1, result.output
        assert result.output.splitlines() == [
            "Error: settings.yaml: environments.local.compute.instance_type: unknown key "
            "(did you mean instance_types?)",
            'Error: settings.yaml: environments.local.compute.max_vcpus: must be a number, not "lots"',
        ]
    assert not (home / "terraform" / "local" / "terraform.tfvars.json").exists()
