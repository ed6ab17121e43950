"""The chaos state file: what must be undone if the experiment process dies mid-way.

The experiment writes ``.spotkit/chaos-state.json`` (under :data:`spotkit.paths.STATE_DIR`) *before*
it changes anything in the account, updates it as the method advances and deletes it once every
action has been undone. ``spotkit chaos rollback`` reads it to undo a crashed run.

Shape (JSON object)::

    {"version": 1, "run_id": "chaos-20261121T101500Z-3f9a1c", "env": "local",
     "phase": "capacity-cut-pending" | "capacity-cut" | "capacity-restored",
     "fleet_request_id": "sfr-...", "original_target_capacity": 2,
     "instance_id": "i-...", "original_job_id": "...", "created_job_ids": ["..."],
     "started_at": "2026-11-21T10:15:00+00:00", "updated_at": "...", "cut_at": null}
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from spotkit import paths

STATE_VERSION = 1

#: Phases, in order. ``capacity-cut-pending`` is written before the ModifySpotFleetRequest call, so a
#: crash between the call and the next write still leaves enough to restore the fleet.
PHASE_PENDING = "capacity-cut-pending"
PHASE_CUT = "capacity-cut"
PHASE_RESTORED = "capacity-restored"


def default_state_path() -> Path:
    """``<repo>/.spotkit/chaos-state.json``."""
    return paths.STATE_DIR / "chaos-state.json"


def utcnow() -> str:
    """The current UTC time as an ISO 8601 string with offset (second precision)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class StateFileError(Exception):
    """The state file exists but cannot be read or is not a spotkit chaos state."""


@dataclass
class ChaosState:
    """What a running (or crashed) experiment has changed, enough to undo it."""

    run_id: str
    env: str
    fleet_request_id: str
    original_target_capacity: int
    instance_id: str
    original_job_id: str
    created_job_ids: list = field(default_factory=list)
    phase: str = PHASE_PENDING
    started_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)
    cut_at: str | None = None
    version: int = STATE_VERSION

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ChaosState:
        """Raises:
        StateFileError: a required key is missing or the version is unknown.
        """
        if data.get("version", STATE_VERSION) != STATE_VERSION:
            raise StateFileError(f"unsupported chaos state version {data.get('version')!r}")
        known = set(cls.__dataclass_fields__)
        try:
            state = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:  # missing required field
            raise StateFileError(f"incomplete chaos state: {exc}") from None
        state.original_target_capacity = int(state.original_target_capacity)
        return state


def write_state(state: ChaosState, path: Path | None = None) -> Path:
    """Atomically write ``state`` (temp file in the same folder, fsync, ``os.replace``).

    Returns the path written. Raises OSError when the folder cannot be created or written.
    """
    path = Path(path or default_state_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    state.updated_at = utcnow()
    atomic_write_json(path, state.to_dict())
    return path


def read_state(path: Path | None = None) -> ChaosState | None:
    """The saved state, or None when there is no state file.

    Raises:
        StateFileError: the file exists but is not valid JSON or not a chaos state.
    """
    path = Path(path or default_state_path())
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StateFileError(f"{path} is not valid JSON ({exc}); inspect it and delete it by hand") from None
    if not isinstance(data, dict):
        raise StateFileError(f"{path} does not hold a JSON object")
    return ChaosState.from_dict(data)


def clear_state(path: Path | None = None) -> bool:
    """Delete the state file. Returns True when a file was deleted (idempotent)."""
    path = Path(path or default_state_path())
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def atomic_write_json(path: Path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` so readers never see a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
