"""Where things live in a spotkit checkout.

``SPOTKIT_HOME`` overrides the repository root (the folder holding modules/, terraform/,
functions/ and settings.yaml); by default it is found from this file's location.
"""

from __future__ import annotations

import os
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]
REPO_ROOT = Path(os.environ.get("SPOTKIT_HOME") or _CHECKOUT)
#: Toolchain cache stays with the checkout even when SPOTKIT_HOME points at a copy (tests do that).
TOOLS_DIR = Path(os.environ.get("SPOTKIT_TOOLS") or _CHECKOUT / ".tools")
STATE_DIR = REPO_ROOT / ".spotkit"  # emulator pid/log, chaos state (git-ignored)
BUILD_DIR = REPO_ROOT / "build"  # Lambda zips (git-ignored)
REPORTS_DIR = REPO_ROOT / "reports"  # chaos and bench reports (git-ignored)
FUNCTIONS_DIR = REPO_ROOT / "functions"
TERRAFORM_DIR = REPO_ROOT / "terraform"
MODULES_DIR = REPO_ROOT / "modules"
SETTINGS_FILE = REPO_ROOT / "settings.yaml"
#: The kit's Terraform folders (what spotkit scan and spotkit provider-check read by default).
TERRAFORM_FOLDERS = ("modules", "terraform", "examples")


def kit_terraform_dirs(root: Path = REPO_ROOT) -> list[Path]:
    """The :data:`TERRAFORM_FOLDERS` of ``root`` that exist."""
    return [root / d for d in TERRAFORM_FOLDERS if (root / d).is_dir()]
