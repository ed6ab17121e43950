"""The chaos state file: what must be undone if the experiment process dies mid-way.

The runner writes ``.spotkit/chaos-state.json`` (under :data:`spotkit.paths.STATE_DIR`) before it
changes anything in the account, appends an undo entry *before* each action it takes, marks entries
done as they are undone and deletes the file once everything has been undone.
``spotkit chaos rollback`` reads it and applies the open entries in reverse order.

Shape, version 2 (JSON object)::

    {"version": 2, "run_id": "chaos-20261121T101500Z-3f9a1c", "env": "local",
     "method": "fis-spot-interruption" | "fleet-capacity" | "terminate-instance",
     "phase": "<method-specific, e.g. capacity-cut>", "started_at": "...", "updated_at": "...",
     "undo": [
        {"kind": "terminate-jobs", "job_ids": ["..."], "job_queue": "arn...",
         "job_names": ["spotkit-chaos-probe-<run id>"], "fallback_job_queue": "arn..." | null},
        {"kind": "delete-fis-template", "run_id": "...", "template_id": "EXT..." | null},
        {"kind": "stop-fis-experiment", "run_id": "...", "template_id": "EXT...", "experiment_id": "EXP..." | null},
        {"kind": "restore-fleet-capacity", "fleet_request_id": "sfr-...", "target_capacity": 2},
        ... each also has "added_at" and, once undone, "done": true]}

An entry whose resource id is still null was written before the call that creates the resource
returned: the undo finds it by the run id tag (``spotkit:chaos-run``) or job name instead.
The fleet-capacity method also keeps the v1 keys ``fleet_request_id`` and
``original_target_capacity`` at the top level, for readers of version 1 files.

Version 1 files (``fleet_request_id``, ``original_target_capacity``, ``created_job_ids``, ``phase``)
are still read: :func:`read_state` turns them into the equivalent undo list.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from spotkit import paths

STATE_VERSION = 2

UNDO_TERMINATE_JOBS = "terminate-jobs"
UNDO_RESTORE_FLEET = "restore-fleet-capacity"
UNDO_STOP_EXPERIMENT = "stop-fis-experiment"
UNDO_DELETE_TEMPLATE = "delete-fis-template"
UNDO_KINDS = (UNDO_TERMINATE_JOBS, UNDO_RESTORE_FLEET, UNDO_STOP_EXPERIMENT, UNDO_DELETE_TEMPLATE)

#: Version 1 phases (the fleet-capacity method still writes them).
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
    """What a running (or crashed) experiment has changed, as a list of undo entries."""

    run_id: str
    env: str
    method: str = ""
    phase: str = "prepared"
    undo: list = field(default_factory=list)
    started_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)
    extra: dict = field(default_factory=dict)  # top-level compatibility keys (see module docs)
    version: int = STATE_VERSION

    def open_entries(self) -> list:
        """The entries not undone yet, in the order they were written."""
        return [e for e in self.undo if not e.get("done")]

    def entry(self, kind: str) -> dict | None:
        """The last entry of ``kind`` (open or done), or None."""
        found = [e for e in self.undo if e.get("kind") == kind]
        return found[-1] if found else None

    def to_dict(self) -> dict:
        data = asdict(self)
        extra = data.pop("extra")
        return {**extra, **data}

    @classmethod
    def from_dict(cls, data: dict) -> ChaosState:
        """A state of either version.

        Raises:
            StateFileError: a required key is missing, an undo entry has an unknown kind, or the
                version is unknown.
        """
        version = data.get("version", 1)
        if version == 1:
            return cls._from_v1(data)
        if version != STATE_VERSION:
            raise StateFileError(f"unsupported chaos state version {version!r}")
        known = set(cls.__dataclass_fields__) - {"extra"}
        missing = {"run_id", "env"} - set(data)
        if missing:
            raise StateFileError(f"incomplete chaos state: missing {sorted(missing)}")
        state = cls(**{k: v for k, v in data.items() if k in known},
                    extra={k: v for k, v in data.items() if k not in known})
        for entry in state.undo:
            if not isinstance(entry, dict) or entry.get("kind") not in UNDO_KINDS:
                raise StateFileError(f"unknown undo entry {entry!r} in the chaos state")
        return state

    @classmethod
    def _from_v1(cls, data: dict) -> ChaosState:
        try:
            fleet, capacity = data["fleet_request_id"], int(data["original_target_capacity"])
            run_id, env = data["run_id"], data["env"]
        except (KeyError, TypeError, ValueError) as exc:
            raise StateFileError(f"incomplete chaos state (version 1): {exc!r}") from None
        undo = [{"kind": UNDO_TERMINATE_JOBS, "job_ids": list(data.get("created_job_ids") or [])}]
        undo.append({"kind": UNDO_RESTORE_FLEET, "fleet_request_id": fleet, "target_capacity": capacity,
                     "done": data.get("phase") == PHASE_RESTORED})
        return cls(run_id=run_id, env=env, method="fleet-capacity", phase=data.get("phase") or PHASE_PENDING,
                   undo=undo, started_at=data.get("started_at") or utcnow(),
                   extra={"fleet_request_id": fleet, "original_target_capacity": capacity})


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
    """The saved state (version 1 or 2), or None when there is no state file.

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


class StateWriter:
    """The runner's handle on its state file: every change is written at once.

    Nothing is written until :meth:`add_undo` (or :meth:`set_phase`) is first called, so a run
    refused or stopped before its first action leaves no file.
    """

    def __init__(self, state: ChaosState, path: Path):
        self.state, self.path, self.written = state, Path(path), False

    def save(self) -> None:
        write_state(self.state, self.path)
        self.written = True

    def add_undo(self, kind: str, **fields) -> dict:
        """Append an undo entry and write the file; call it BEFORE the action it undoes.
        Returns the entry (update it with :meth:`update`)."""
        if kind not in UNDO_KINDS:
            raise ValueError(f"unknown undo kind {kind!r}")
        entry = {"kind": kind, **fields, "added_at": utcnow()}
        self.state.undo.append(entry)
        self.save()
        return entry

    def update(self, entry: dict, **fields) -> None:
        """Change an entry (e.g. the resource id once known) and write the file."""
        entry.update(fields)
        self.save()

    def set_phase(self, phase: str, **extra) -> None:
        self.state.phase = phase
        self.state.extra.update(extra)
        self.save()

    def clear_if_done(self) -> bool:
        """Delete the file when every entry is done; True when nothing is left to undo."""
        if self.state.open_entries():
            return False
        if self.written:
            clear_state(self.path)
        return True


def atomic_write_text(path: Path, data: str, mode: int | None = None) -> None:
    """Write the string ``data`` (UTF-8) to ``path`` so readers never see a partial file: a temp file
    in the same folder, fsync, ``os.replace``. ``mode``: the file's permissions (None keeps mkstemp's
    0600)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_json(path: Path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` so readers never see a partial file."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
