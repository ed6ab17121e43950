"""spotkit's own checkov policies (CKV_SPOTKIT_<n>): is this Terraform ready for AWS Batch on Spot?

The directory is a checkov external-checks directory: Python checks (``ckv_spotkit_*.py``, one
``BaseResourceCheck`` each, registered on import) and YAML graph checks (``ckv_spotkit_*.yaml``)
for the cross-resource ones. Run them on any Terraform::

    checkov --skip-download --external-checks-dir "$(spotkit scan --policies-dir)" -d path/to/terraform

docs/policies.md lists every policy with the AWS page or source post that justifies it.
"""

from __future__ import annotations

from pathlib import Path


def policies_dir() -> Path:
    """The directory to pass to ``checkov --external-checks-dir``."""
    return Path(__file__).resolve().parent


__all__ = ["policies_dir"]
