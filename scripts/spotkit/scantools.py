"""checkov in a tool virtualenv of its own, outside the clone (``spotkit setup --scan-tools``).

checkov pins much of the world (boto3, packaging, ...), so it is never installed into spotkit's
own environment. Like the lint tools (:mod:`spotkit.gotools`) it lives in the user's cache:

* ``<cache>/checkov/<version>/`` is a ``python -m venv`` with ``checkov==<version>`` installed,
  where ``<cache>`` is ``SPOTKIT_CACHE`` or ``$XDG_CACHE_HOME/spotkit`` (default
  ``~/.cache/spotkit``), shared by every clone and by later CI runs on the same machine;
* it is built in a temporary sibling directory and renamed into place only once pip has
  finished, so an interrupted install is never used (the leftover ``.tmp-*`` is removed by the
  next build); a lock file keeps two concurrent builds from doing the work twice;
* ``SPOTKIT_CHECKOV`` names a checkov of the user's own instead: a ``checkov`` executable, or a
  ``python`` that has checkov installed (run as ``python -m checkov.main``).

Nothing here imports checkov: spotkit only ever runs it as a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from spotkit.gotools import cache_root

CHECKOV_VERSION = "3.3.30"
CHECKOV_REQ = f"checkov=={CHECKOV_VERSION}"
OVERRIDE_ENV = "SPOTKIT_CHECKOV"
#: Written into the venv before it is renamed into place; its absence means "not ours / incomplete".
MARKER = ".spotkit-checkov"


class ScanToolError(RuntimeError):
    """checkov could not be found or installed; the message says what to do."""


@dataclass(frozen=True)
class Checkov:
    """A checkov to run: ``command`` + checkov's arguments."""

    command: tuple
    version: str
    source: str  # "tool venv <path>" or "SPOTKIT_CHECKOV=<value>"


def _log(msg: str) -> None:
    print(f"[scan-tools] {msg}", file=sys.stderr, flush=True)


def venv_dir(version: str = CHECKOV_VERSION) -> Path:
    return cache_root() / "checkov" / version


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _probe_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(BC_SKIP_MAPPING="TRUE", CKV_SKIP_PACKAGE_UPDATE_CHECK="TRUE", PYTHONWARNINGS="ignore")
    return env


def _version(command: list) -> Optional[str]:
    """checkov's version as reported by ``command`` (a python or a checkov), or None."""
    if command[-2:] == ["-m", "checkov.main"]:
        probe = [command[0], "-c", "from checkov.version import version; print(version)"]
    else:
        probe = [*command, "--version"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=120, env=_probe_env(),
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = proc.stdout.strip().splitlines()
    return lines[-1].strip() if proc.returncode == 0 and lines else None


def _override() -> Optional[Checkov]:
    value = os.environ.get(OVERRIDE_ENV, "").strip()
    if not value:
        return None
    path = shutil.which(value) or value
    if not Path(path).is_file():
        raise ScanToolError(f"{OVERRIDE_ENV}={value}: no such executable")
    is_python = Path(path).name.lower().startswith(("python", "pypy"))
    command = [path, "-m", "checkov.main"] if is_python else [path]
    version = _version(command)
    if version is None:
        raise ScanToolError(f"{OVERRIDE_ENV}={value}: does not run checkov "
                            f"({'python -m checkov.main' if is_python else 'checkov --version'} failed)")
    if version != CHECKOV_VERSION:
        _log(f"WARNING {OVERRIDE_ENV} is checkov {version}; spotkit's policies are tested with {CHECKOV_VERSION}")
    return Checkov(tuple(command), version, f"{OVERRIDE_ENV}={value}")


def _cached(venv: Path) -> Optional[Checkov]:
    if not (venv / MARKER).is_file() or not _python(venv).exists():
        return None
    command = [str(_python(venv)), "-m", "checkov.main"]
    version = _version(command)
    return Checkov(tuple(command), version, f"tool venv {venv}") if version == CHECKOV_VERSION else None


def _run_pip(python: Path, args: list) -> None:
    """pip in the tool venv; its main steps are echoed to standard error as progress."""
    cmd = [str(python), "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PIP_PROGRESS_BAR": "off"})
    tail: list = []
    collected = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-15:]
        if line.startswith("Collecting "):
            collected += 1
            if collected == 1 or collected % 20 == 0:
                _log(f"pip: {line} ({collected} so far)")
        elif line.startswith(("Installing collected", "Successfully installed", "ERROR")):
            _log(f"pip: {line[:200]}{' ...' if len(line) > 200 else ''}")
    if proc.wait() != 0:
        raise ScanToolError(f"pip {' '.join(args[:2])} failed in the checkov tool venv:\n" + "\n".join(tail))


def _relocate(tmp: Path, final: Path) -> None:
    """Point the scripts pip wrote into ``tmp/bin`` (shebangs, activate) at ``final``."""
    old, new = str(tmp).encode(), str(final).encode()
    bindir = _python(tmp).parent
    for f in bindir.iterdir():
        if f.is_symlink() or not f.is_file():
            continue
        data = f.read_bytes()
        if old in data and b"\0" not in data[:4096]:
            f.write_bytes(data.replace(old, new))


def _build(venv: Path) -> None:
    venv.parent.mkdir(parents=True, exist_ok=True)
    for stale in venv.parent.glob(f".tmp-{venv.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)  # an earlier interrupted build (we hold the lock)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{venv.name}-", dir=venv.parent))
    started = time.monotonic()
    try:
        _log(f"creating the checkov {CHECKOV_VERSION} tool venv (once; {venv}) with {sys.executable}")
        proc = subprocess.run([sys.executable, "-m", "venv", "--prompt", f"checkov-{CHECKOV_VERSION}", str(tmp)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise ScanToolError(f"python -m venv failed: {(proc.stderr or proc.stdout).strip()}")
        _log(f"pip install {CHECKOV_REQ} (a few minutes)")
        _run_pip(_python(tmp), ["install", "--progress-bar", "off", CHECKOV_REQ])
        _relocate(tmp, venv)
        tmp.chmod(0o755)  # mkdtemp made it private
        (tmp / MARKER).write_text(f"{CHECKOV_REQ}\nbuilt with {sys.executable}\n", encoding="utf-8")
        if venv.exists():  # incomplete or broken (no marker / does not run): move it out of the way
            shutil.rmtree(venv)
        os.rename(tmp, venv)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _log(f"checkov {CHECKOV_VERSION} installed in {time.monotonic() - started:.0f} s")


class _Lock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = None

    def __enter__(self) -> "_Lock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a")
        try:
            import fcntl

            fcntl.flock(self.fh, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX: the rename alone keeps it safe
            pass
        return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.close()


def find() -> Optional[Checkov]:
    """The checkov to use without installing anything: SPOTKIT_CHECKOV, else the cached tool venv."""
    return _override() or _cached(venv_dir())


def ensure(quiet: bool = False) -> Checkov:
    """SPOTKIT_CHECKOV, else the cached tool venv, built first when missing. Idempotent."""
    found = find()
    if found is None:
        venv = venv_dir()
        with _Lock(venv.parent / f".{venv.name}.lock"):
            found = _cached(venv)  # another process may have built it while we waited
            if found is None:
                _build(venv)
                found = _cached(venv)
        if found is None:
            raise ScanToolError(f"checkov {CHECKOV_VERSION} was installed into {venv} but does not run; "
                                f"delete that folder and retry, or set {OVERRIDE_ENV}")
    if not quiet:
        _log(f"checkov {found.version} ({found.source})")
    return found


__all__ = ["CHECKOV_VERSION", "Checkov", "ScanToolError", "ensure", "find", "venv_dir"]
