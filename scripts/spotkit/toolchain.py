"""Terraform toolchain: a Terraform binary and where the hashicorp/aws provider comes from.

Every step is idempotent and prints what it found:

* Terraform: ``SPOTKIT_TERRAFORM`` or the ``terraform`` on PATH when it is >= :data:`MIN_TERRAFORM`
  (the modules' ``required_version``); otherwise Terraform :data:`FALLBACK_TERRAFORM` (the last
  MPL release; it resolves from the Go module proxy alone) is built with the machine's ``go`` into
  ``~/.cache/spotkit/terraform/v1.5.7/`` by :mod:`spotkit.gotools`, as the lint tools are.
* hashicorp/aws, one of (``SPOTKIT_PROVIDER_SOURCE``):

  - ``registry`` - Terraform downloads it from registry.terraform.io itself (what real users
    have); no CLI config is written;
  - ``mirror`` (default) - a filesystem mirror holding hashicorp/aws >= :data:`MIN_AWS_PROVIDER`
    for this platform: ``SPOTKIT_PROVIDER_MIRROR=DIR``, else the first of
    :data:`DEFAULT_MIRRORS` that has one. ``.tools/terraformrc`` (export it as
    ``TF_CLI_CONFIG_FILE``) then installs hashicorp/* from that directory only. Where no mirror has
    one, setup stops with one message saying what to do.

The provider floor and why: the modules use ``aws_batch_job_queue.job_state_time_limit_action``
(hashicorp/aws 5.63.1; ``compute_environment_order`` came in 5.40.0) and default to the python3.13
Lambda runtime, which hashicorp/aws validates against its AWS SDK's runtime list: 5.75.1 rejects it
(terraform-provider-aws#40107), support shipped with the SDK update of 5.77.0 (#40137, #40277). The
floor is the newest of those: 5.77.0.

Sources: Terraform CLI docs, "CLI Configuration File" (``provider_installation``,
``filesystem_mirror``; the mirror's ``HOSTNAME/NAMESPACE/TYPE/VERSION/TARGET/`` unpacked layout);
hashicorp/terraform-provider-aws CHANGELOG (5.40.0, 5.63.1).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from spotkit.paths import TOOLS_DIR

CLI_CONFIG = TOOLS_DIR / "terraformrc"
BIN_DIR = TOOLS_DIR / "bin"

#: The modules' ``required_version``: they need 1.3 (``optional()`` attributes with defaults); 1.5
#: is the floor so that the fallback below, the last MPL release, always satisfies it.
MIN_TERRAFORM = (1, 5, 0)
#: Built from the Go module proxy when PATH has no Terraform >= MIN_TERRAFORM.
FALLBACK_TERRAFORM = "v1.5.7"
#: The modules' hashicorp/aws floor (``required_providers`` ``>= 5.77.0, < 7.0``).
MIN_AWS_PROVIDER = (5, 77, 0)
MAX_AWS_PROVIDER_MAJOR = 6
#: Filesystem mirrors looked at when SPOTKIT_PROVIDER_MIRROR is not set. /opt/tf-plugins is where
#: this project's build machines carry a genuine hashicorp/aws 5.100.0 (not documented by their
#: makers, hence only looked at, never relied on).
DEFAULT_MIRRORS = (Path("/opt/tf-plugins"),)
PROVIDER_PATH = Path("registry.terraform.io") / "hashicorp" / "aws"


class ToolchainError(RuntimeError):
    """A toolchain step could not complete; the message says what to do."""


@dataclass(frozen=True)
class Toolchain:
    """What :func:`ensure` resolved.

    Attributes:
        terraform: absolute path of the Terraform binary to run.
        terraform_version: its ``x.y.z`` version.
        cli_config: path for ``TF_CLI_CONFIG_FILE`` (``None`` when the registry is used).
        provider_source: ``"registry"`` or the mirror directory.
        provider_version: hashicorp/aws ``x.y.z`` in the mirror (``None`` with the registry: the
            root's lock file or Terraform's choice decides).
    """

    terraform: Path
    terraform_version: str
    cli_config: Optional[Path]
    provider_source: str = "registry"
    provider_version: Optional[str] = None

    def env(self) -> dict:
        """Environment variables Terraform needs (merge into ``os.environ`` for subprocesses)."""
        env = {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
        if self.cli_config:
            env["TF_CLI_CONFIG_FILE"] = str(self.cli_config)
        return env


def _log(msg: str) -> None:
    print(f"[setup] {msg}", file=sys.stderr, flush=True)


def _fmt(ver: tuple) -> str:
    return ".".join(map(str, ver))


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


def ensure_terraform() -> tuple:
    """Return ``(path, "x.y.z")`` of a Terraform >= :data:`MIN_TERRAFORM`, building 1.5.7 if needed.

    Raises:
        ToolchainError: SPOTKIT_TERRAFORM names a binary that is not Terraform >= the floor, or the
            fallback build failed (no Go, no module proxy).
    """
    override = os.environ.get("SPOTKIT_TERRAFORM")
    if override:
        ver = _version_of(override)
        if not ver or ver < MIN_TERRAFORM:
            raise ToolchainError(f"SPOTKIT_TERRAFORM={override} is not Terraform >= {_fmt(MIN_TERRAFORM)} "
                                 f"({'v' + _fmt(ver) if ver else 'it does not run'})")
        return Path(override).resolve(), _fmt(ver)
    on_path = shutil.which("terraform")
    if on_path and Path(on_path).absolute().parent != BIN_DIR:  # not our own link: resolve afresh
        ver = _version_of(on_path)
        if ver and ver >= MIN_TERRAFORM:
            return Path(on_path).resolve(), _fmt(ver)
        _log(f"{on_path} is Terraform {_fmt(ver) if ver else '(unknown)'}, older than {_fmt(MIN_TERRAFORM)}")
    from spotkit import gotools

    try:
        binary = gotools.build(gotools.TERRAFORM, log=_log)
    except gotools.GoToolError as exc:
        raise ToolchainError(
            f"no Terraform >= {_fmt(MIN_TERRAFORM)} on PATH, and building Terraform {FALLBACK_TERRAFORM} from the "
            f"Go module proxy failed: {exc}\nInstall Terraform >= {_fmt(MIN_TERRAFORM)} or set SPOTKIT_TERRAFORM."
        ) from exc
    ver = _version_of(str(binary))
    if not ver:
        raise ToolchainError(f"{binary} does not run; delete it and run `spotkit setup` again")
    return binary, _fmt(ver)


def platform_target() -> str:
    """Terraform's name for this platform, e.g. ``linux_amd64`` (a mirror's ``TARGET`` folder)."""
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower(),
                                                                        platform.machine().lower())
    return f"{platform.system().lower()}_{machine}"


def _parse(version: str) -> Optional[tuple]:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    return tuple(int(x) for x in m.groups()) if m else None


def mirror_versions(mirror: Path) -> list:
    """hashicorp/aws versions (``(x, y, z)``, newest first) unpacked in ``mirror`` for this platform."""
    base = mirror / PROVIDER_PATH
    found = []
    if base.is_dir():
        for d in base.iterdir():
            ver = _parse(d.name)
            plat = d / platform_target()
            if ver and plat.is_dir() and any(p.name.startswith("terraform-provider-aws") for p in plat.iterdir()):
                found.append(ver)
    return sorted(found, reverse=True)


def usable(ver: tuple) -> bool:
    """Whether hashicorp/aws ``ver`` is inside the modules' ``>= 5.77.0, < 7.0``."""
    return MIN_AWS_PROVIDER <= ver and ver[0] <= MAX_AWS_PROVIDER_MAJOR


def find_mirror() -> tuple:
    """Return ``(mirror_dir, (x, y, z))``: the newest usable hashicorp/aws in a filesystem mirror.

    Raises:
        ToolchainError: no mirror holds one; the message lists what was looked at and what to do.
    """
    explicit = os.environ.get("SPOTKIT_PROVIDER_MIRROR")
    candidates = [Path(explicit)] if explicit else list(DEFAULT_MIRRORS)
    seen = []
    for mirror in candidates:
        versions = mirror_versions(mirror)
        good = [v for v in versions if usable(v)]
        if good:
            return mirror, good[0]
        held = ", ".join(map(_fmt, versions)) if versions else f"no hashicorp/aws for {platform_target()}"
        seen.append(f"{mirror} ({held})")
    raise ToolchainError(
        f"no hashicorp/aws >= {_fmt(MIN_AWS_PROVIDER)}, < {MAX_AWS_PROVIDER_MAJOR + 1}.0 for {platform_target()} in a "
        f"filesystem mirror (looked at: {'; '.join(seen)}). Either let Terraform download it: "
        "export SPOTKIT_PROVIDER_SOURCE=registry (needs registry.terraform.io), or point "
        "SPOTKIT_PROVIDER_MIRROR at a directory laid out as "
        f"<dir>/{PROVIDER_PATH}/<version>/{platform_target()}/terraform-provider-aws_v<version>_x5 "
        "(`terraform providers mirror` writes one)."
    )


def cli_config_text(mirror: Path) -> str:
    """A Terraform CLI config installing hashicorp/* from ``mirror`` only, everything else direct."""
    return (
        "# Generated by spotkit: install hashicorp/* providers from this filesystem mirror only.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )


def default_mirror() -> Path:
    """``SPOTKIT_PROVIDER_MIRROR``, else the first of :data:`DEFAULT_MIRRORS` (present or not)."""
    return Path(os.environ.get("SPOTKIT_PROVIDER_MIRROR") or DEFAULT_MIRRORS[0])


def write_cli_config(mirror: Path) -> Path:
    """Write ``.tools/terraformrc`` (:func:`cli_config_text` of ``mirror``); return its path."""
    text = cli_config_text(mirror)
    CLI_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    if not CLI_CONFIG.exists() or CLI_CONFIG.read_text() != text:
        CLI_CONFIG.write_text(text)
    return CLI_CONFIG


def ensure(quiet: bool = False) -> Toolchain:
    """Resolve (building Terraform if needed) and return the toolchain. Idempotent.

    Raises:
        ToolchainError: no usable Terraform or provider; the message says what to do.
    """
    tf, ver = ensure_terraform()
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    link = BIN_DIR / "terraform"
    if not (link.is_symlink() and Path(os.readlink(link)) == tf):
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(tf)
    source = os.environ.get("SPOTKIT_PROVIDER_SOURCE", "mirror")
    if source not in ("mirror", "registry"):
        raise ToolchainError(f"SPOTKIT_PROVIDER_SOURCE={source}: use mirror (default) or registry")
    if source == "registry":
        if CLI_CONFIG.exists():
            CLI_CONFIG.unlink()
        tc = Toolchain(terraform=tf, terraform_version=ver, cli_config=None)
    else:
        mirror, pver = find_mirror()
        tc = Toolchain(terraform=tf, terraform_version=ver, cli_config=write_cli_config(mirror),
                       provider_source=str(mirror), provider_version=_fmt(pver))
    if not quiet:
        _log(f"terraform {ver} at {tf}; hashicorp/aws: "
             + (f"{tc.provider_version} from the filesystem mirror {tc.provider_source}" if tc.cli_config
                else "from registry.terraform.io"))
    return tc
