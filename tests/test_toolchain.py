"""spotkit.toolchain: where Terraform and hashicorp/aws come from (`spotkit setup`).

Mirrors are built in tmp_path with the layout Terraform reads (HOSTNAME/NAMESPACE/TYPE/VERSION/
TARGET/terraform-provider-<TYPE>_v<VERSION>_x5); the provider files are empty stand-ins, except in
the last test, which runs `terraform init` against the real mirror when this machine has one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from spotkit import gotools, toolchain

REAL_MIRROR = Path("/opt/tf-plugins")


def _mirror(root: Path, *versions: str, platform: str | None = None) -> Path:
    for v in versions:
        d = root / toolchain.PROVIDER_PATH / v / (platform or toolchain.platform_target())
        d.mkdir(parents=True)
        (d / f"terraform-provider-aws_v{v}_x5").write_bytes(b"")
    return root


@pytest.fixture
def tools_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(toolchain, "CLI_CONFIG", tmp_path / "tools" / "terraformrc")
    monkeypatch.setattr(toolchain, "BIN_DIR", tmp_path / "tools" / "bin")
    monkeypatch.delenv("SPOTKIT_PROVIDER_SOURCE", raising=False)
    monkeypatch.delenv("SPOTKIT_TERRAFORM", raising=False)
    return tmp_path / "tools"


def test_the_newest_usable_version_in_the_mirror_is_chosen(tmp_path, monkeypatch):
    mirror = _mirror(tmp_path / "m", "3.39.0", "5.63.1", "5.100.0", "6.2.0", "7.0.0")
    _mirror(tmp_path / "m", "6.9.0", platform="darwin_arm64")  # another platform's build does not count
    monkeypatch.setenv("SPOTKIT_PROVIDER_MIRROR", str(mirror))
    assert toolchain.find_mirror() == (mirror, (6, 2, 0))


def test_a_mirror_with_only_old_providers_stops_with_one_message_naming_both_ways_out(tmp_path, monkeypatch):
    mirror = _mirror(tmp_path / "m", "3.39.0", "5.63.1")
    monkeypatch.setenv("SPOTKIT_PROVIDER_MIRROR", str(mirror))
    with pytest.raises(toolchain.ToolchainError) as err:
        toolchain.find_mirror()
    message = str(err.value)
    assert "\n" not in message
    assert f"{mirror} (5.63.1, 3.39.0)" in message
    assert ">= 5.77.0, < 7.0" in message
    assert "SPOTKIT_PROVIDER_SOURCE=registry" in message and "SPOTKIT_PROVIDER_MIRROR" in message


def test_no_mirror_at_all_is_said_so(tmp_path, monkeypatch):
    monkeypatch.setattr(toolchain, "DEFAULT_MIRRORS", (tmp_path / "absent",))
    monkeypatch.delenv("SPOTKIT_PROVIDER_MIRROR", raising=False)
    with pytest.raises(toolchain.ToolchainError, match=r"absent \(no hashicorp/aws for linux_"):
        toolchain.find_mirror()


def test_ensure_writes_a_cli_config_for_the_mirror_and_none_for_the_registry(tmp_path, tools_dir, monkeypatch):
    if not shutil.which("terraform"):
        pytest.skip("no terraform on PATH (the 1.5.7 build is tested below)")
    mirror = _mirror(tmp_path / "m", "5.100.0")
    monkeypatch.setenv("SPOTKIT_PROVIDER_MIRROR", str(mirror))
    tc = toolchain.ensure(quiet=True)
    assert tc.provider_version == "5.100.0" and tc.provider_source == str(mirror)
    text = tc.cli_config.read_text()
    assert f'path    = "{mirror}"' in text and 'include = ["registry.terraform.io/hashicorp/*"]' in text
    assert tc.env()["TF_CLI_CONFIG_FILE"] == str(tc.cli_config)

    monkeypatch.setenv("SPOTKIT_PROVIDER_SOURCE", "registry")
    tc = toolchain.ensure(quiet=True)
    assert tc.cli_config is None and "TF_CLI_CONFIG_FILE" not in tc.env()
    assert not (tools_dir / "terraformrc").exists()  # a stale mirror config would override the registry

    monkeypatch.setenv("SPOTKIT_PROVIDER_SOURCE", "mirrors")
    with pytest.raises(toolchain.ToolchainError, match="use mirror .default. or registry"):
        toolchain.ensure(quiet=True)


def test_an_old_terraform_on_path_makes_setup_build_1_5_7(tmp_path, tools_dir, monkeypatch):
    old = tmp_path / "bin" / "terraform"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'Terraform v1.0.3'\n")
    old.chmod(0o755)
    built = tmp_path / "cache" / "terraform"
    built.parent.mkdir()
    built.write_text("#!/bin/sh\necho 'Terraform v1.5.7'\n")
    built.chmod(0o755)
    asked = []
    monkeypatch.setenv("PATH", f"{old.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(gotools, "build", lambda tool, log=None: asked.append(tool) or built)
    assert toolchain.ensure_terraform() == (built.resolve(), "1.5.7")
    assert asked == [gotools.TERRAFORM]
    assert (gotools.TERRAFORM.module, gotools.TERRAFORM.version) == ("github.com/hashicorp/terraform", "v1.5.7")


def test_spotkit_terraform_must_be_new_enough(tmp_path, monkeypatch):
    old = tmp_path / "terraform"
    old.write_text("#!/bin/sh\necho 'Terraform v1.4.6'\n")
    old.chmod(0o755)
    monkeypatch.setenv("SPOTKIT_TERRAFORM", str(old))
    with pytest.raises(toolchain.ToolchainError, match=r"is not Terraform >= 1.5.0 \(v1.4.6\)"):
        toolchain.ensure_terraform()


@pytest.mark.skipif(not (REAL_MIRROR / toolchain.PROVIDER_PATH).is_dir(), reason="no /opt/tf-plugins mirror here")
def test_terraform_init_against_the_real_mirror_records_the_committed_lock(tmp_path, tools_dir, monkeypatch):
    monkeypatch.setenv("SPOTKIT_PROVIDER_MIRROR", str(REAL_MIRROR))
    tc = toolchain.ensure(quiet=True)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "main.tf").write_text(
        'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = ">= 5.77.0, < 7.0" }\n'
        "  }\n}\n")
    env = {**os.environ, **tc.env(), "TF_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([str(tc.terraform), "init", "-backend=false", "-input=false", "-no-color"],
                          cwd=tmp_path / "root", env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lock = (tmp_path / "root" / ".terraform.lock.hcl").read_text()
    committed = (Path(__file__).resolve().parents[1] / "terraform" / "local" / ".terraform.lock.hcl").read_text()
    hashes = [line.strip() for line in lock.splitlines() if line.strip().startswith('"h1:')]
    assert hashes and all(h in committed for h in hashes)
    assert f'version     = "{tc.provider_version}"' in lock and f'version     = "{tc.provider_version}"' in committed
