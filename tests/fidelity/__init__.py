"""Captured AWS payloads (``aws/*.json``, provenance in SOURCES.md) and the structural comparator (``shapes``).

Under pytest ``tests/`` is on ``sys.path`` (rootdir conftest, no ``tests/__init__.py``), so import as
``from fidelity import shapes, load_capture``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIDELITY_DIR = Path(__file__).resolve().parent
AWS_DIR = FIDELITY_DIR / "aws"
SOURCES_MD = FIDELITY_DIR / "SOURCES.md"


def load_capture(name: str) -> Any:
    """The parsed JSON of ``aws/<name>`` (``.json`` optional). Raises FileNotFoundError if absent."""
    path = AWS_DIR / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def capture_names() -> list[str]:
    """The file names in ``aws/``, sorted."""
    return sorted(p.name for p in AWS_DIR.glob("*.json"))
