"""Deterministic Lambda zips: ``spotkit package [--out DIR] [--compile-for python3.N] [FUNCTION...]``.

Every folder under ``functions/`` holding a handler file (``app.py``, ``handler.py`` or
``lambda_function.py``) is one Lambda function; its zip is ``<out>/<folder name>.zip`` with the
folder's files at the zip root, plus the packages of the folder's ``requirements.txt`` (if any)
vendored next to them. The Lambda Python runtime already provides boto3/botocore, so list only what
the runtime lacks.

Two builds from the same sources give byte-identical zips, so Terraform's
``filebase64sha256(...)`` (``source_code_hash``) only changes when the code does:

- entries sorted by path, no directory entries, every timestamp 1980-01-01 00:00:00, every file
  mode 0644, created-by Unix, deflate level 9 (the bytes also depend on the zlib build);
- no ``__pycache__``/``*.pyc`` found on disk (pip runs with ``--no-compile``; ``--compile-for``
  below makes its own), no pip install records that vary between machines (``RECORD``,
  ``INSTALLER``, ``REQUESTED``, ``direct_url.json``), no ``bin/`` console scripts (their shebang is
  the build machine's Python path);
- the zip is written to a temporary file and renamed into place, and not rewritten at all when the
  bytes are unchanged (its mtime stays, so ``make`` does not rebuild downstream).

Precompiled bytecode (opt-in, ``--compile-for python3.N`` or ``SPOTKIT_COMPILE_FOR``): Lambda's
``/var/task`` is read-only, so without ``.pyc`` files in the zip every cold start compiles the zip's
modules from source (nothing can be cached). With the option, every ``.py`` of the zip gets
``<dir>/__pycache__/<name>.cpython-3N.pyc`` next to it, compiled by :mod:`py_compile` (optimization
level 0, as Lambda runs) in a fresh interpreter with ``PYTHONHASHSEED=0``:

- hash-based pycs, ``PycInvalidationMode.UNCHECKED_HASH`` (PEP 552): no source mtime inside, so the
  zip stays byte-identical across builds, and the import system loads them without reading or
  hashing the source;
- the path recorded in the code objects is the path inside the zip (never the build machine's); at
  import Python replaces it with the real file path, so tracebacks name ``/var/task/...``;
- a file that does not compile (a syntax error in some vendored file) gets no pyc, and is then
  compiled from source at import exactly as without the option.

A pyc is only ever loaded by the Python minor version of its file name (the cache tag), and bytecode
differs between minor versions, so the option refuses to run unless the running interpreter *is*
``python3.N``: build with the same Python as the function's runtime (e.g. CI on ``python3.12`` for
the ``python3.12`` runtime). The default stays source only because the zip's hash feeds Terraform's
``source_code_hash``: with bytecode in it, developers building with different Pythons would get
different zips and endless Lambda updates. Python docs: https://docs.python.org/3/library/py_compile.html

spotkit's decision core is vendored into every zip: ``spotkit/__init__.py``, ``spotkit/runtime.py``
and ``spotkit/core/`` (:data:`SPOTKIT_MODULES`), copied from the ``spotkit`` package this command
runs from, so the function imports ``spotkit.core`` exactly as the CLI, chaos and the benchmarks do
(standard library only: it adds no dependency to the function).

Vendored requirements are installed once into ``.spotkit/vendor-cache/<key>`` where ``key`` is the
sha256 of ``requirements.txt`` plus the building Python's ``major.minor``; build with the same
Python minor version as the Lambda runtime when a requirement has compiled code.
Lambda deployment package format: https://docs.aws.amazon.com/lambda/latest/dg/python-package.html
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click

from spotkit.paths import BUILD_DIR, FUNCTIONS_DIR, STATE_DIR

#: A folder is a function when it holds one of these (Lambda handler module files).
HANDLER_FILES = ("app.py", "handler.py", "lambda_function.py")
#: Oldest timestamp a zip entry can carry; used for every entry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
DEFLATE_LEVEL = 9
#: Folder names never packaged from a function's own folder (caches, tests, VCS); vendored
#: packages only lose ``__pycache__``.
EXCLUDED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", "tests"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
#: Files of a function's own folder that are not code (docs, the requirements themselves).
EXCLUDED_NAMES = frozenset({"requirements.txt", "README.md", ".DS_Store"})
#: pip's per-install records under ``*.dist-info/``; they vary by machine and are unused at runtime.
SCRUBBED_DIST_INFO = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
VENDOR_CACHE_DIR = STATE_DIR / "vendor-cache"
#: Bump to invalidate every vendor cache entry when the install flags change.
_VENDOR_LAYOUT = "1"
#: ``--compile-for`` values: a Lambda Python runtime identifier.
COMPILE_FOR_PATTERN = re.compile(r"python3\.(\d{1,2})")
#: Run by a fresh interpreter: compiles ``[[archive name, source path, pyc path], ...]`` (JSON on
#: stdin); prints ``[archive name, error]`` (JSON, one a line) for each file that does not compile.
_COMPILER = """\
import json, py_compile, sys
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
for name, source, cfile in json.load(sys.stdin):
    try:
        py_compile.compile(source, cfile=cfile, dfile=name, doraise=True, optimize=0, invalidation_mode=mode)
    except py_compile.PyCompileError as exc:
        print(json.dumps([name, exc.msg.strip().splitlines()[-1] if exc.msg.strip() else repr(exc)]))
"""


#: What of the ``spotkit`` package goes into every function zip (paths relative to its parent folder):
#: the decision core and the index-map codec it shares with job code. Standard library only.
SPOTKIT_MODULES = ("spotkit/__init__.py", "spotkit/runtime.py", "spotkit/core")


class PackageError(RuntimeError):
    """A function cannot be packaged (no handler, pip failure, file name clash)."""


@dataclass(frozen=True)
class ZipDigest:
    """Size (bytes) and sha256 of a built zip; ``sha256_b64`` equals Terraform's filebase64sha256."""

    path: Path
    size: int
    sha256: str
    sha256_b64: str


def digest(path: Path) -> ZipDigest:
    """Size and sha256 (hex and base64) of the file at ``path``."""
    data = Path(path).read_bytes()
    h = hashlib.sha256(data)
    return ZipDigest(Path(path), len(data), h.hexdigest(), base64.b64encode(h.digest()).decode())


def discover(functions_dir: Path = FUNCTIONS_DIR) -> list[Path]:
    """The function folders under ``functions_dir`` (those holding a handler file), sorted by name."""
    if not functions_dir.is_dir():
        return []
    return sorted(d for d in functions_dir.iterdir()
                  if d.is_dir() and any((d / h).is_file() for h in HANDLER_FILES))


def running_runtime() -> str:
    """The Lambda runtime name matching this interpreter, e.g. ``"python3.12"``."""
    return f"python{sys.version_info[0]}.{sys.version_info[1]}"


def check_compile_for(runtime: str) -> str:
    """Validate a ``--compile-for`` value and return it.

    Args:
        runtime: a Lambda Python runtime name, ``python3.N``.

    Raises:
        PackageError: ``runtime`` is not of the form ``python3.N``, or this interpreter is not CPython
            3.N (its pycs would carry another cache tag, which ``runtime`` never loads).
    """
    if not COMPILE_FOR_PATTERN.fullmatch(runtime or ""):
        raise PackageError(f"{runtime!r} is not a Lambda Python runtime name; use the form python3.N, "
                           f"e.g. {running_runtime()}")
    if runtime != running_runtime() or sys.implementation.name != "cpython":
        raise PackageError(
            f"{runtime} bytecode needs {runtime} to build it, but this is {platform.python_implementation()} "
            f"{platform.python_version()} ({sys.executable}), whose pycs ({sys.implementation.cache_tag}) {runtime} "
            f"never loads. Run `spotkit package --compile-for {runtime}` with {runtime} (e.g. from a venv made "
            f"by `make setup PYTHON={runtime}`), or leave --compile-for out for a source-only zip.")
    return runtime


def _pyc_name(name: str) -> str:
    """``a/b.py`` -> ``a/__pycache__/b.<cache tag>.pyc`` (what the import system looks for)."""
    folder, _, base = name.rpartition("/")
    pyc = f"__pycache__/{base[:-3]}.{sys.implementation.cache_tag}.pyc"
    return f"{folder}/{pyc}" if folder else pyc


def bytecode(files: dict[str, Path], dest: Path) -> tuple[dict[str, Path], list[str]]:
    """Compile every ``.py`` of ``{archive name: file}`` for this interpreter (see the module docstring).

    Args:
        files: what goes into the zip; entries not ending in ``.py`` are ignored.
        dest: an empty scratch folder that receives the pyc files (keep it until they are zipped).

    Returns:
        ``({pyc archive name: pyc file}, [archive names that did not compile, with the error])``.

    Raises:
        PackageError: the compiler process failed.
    """
    todo = [[name, str(files[name]), str(Path(dest) / _pyc_name(name))] for name in sorted(files)
            if name.endswith(".py")]
    # A fresh interpreter with a fixed hash seed: marshal's output must not depend on the caller's state.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-S", "-c", _COMPILER], input=json.dumps(todo), capture_output=True,
                          text=True, env=env, cwd=dest, check=False)
    if proc.returncode != 0:
        raise PackageError(f"compiling bytecode failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    failed = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    skipped = {name for name, _ in failed}
    pycs = {_pyc_name(name): Path(cfile) for name, _, cfile in todo if name not in skipped}
    return pycs, [f"{name}: {error}" for name, error in failed]


def _requirements_lines(requirements: Path) -> list[str]:
    if not requirements.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line]


def _pip_install(requirements: Path, target: Path, only_binary: bool) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "install", "--target", str(target), "-r", str(requirements),
           "--no-compile", "--disable-pip-version-check", "--no-input", "--no-warn-script-location",
           "--quiet"]
    if only_binary:
        cmd.append("--only-binary=:all:")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PIP_NO_INPUT": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


def _scrub(tree: Path) -> None:
    """Remove files that differ between identical installs (see :data:`SCRUBBED_DIST_INFO`)."""
    shutil.rmtree(tree / "bin", ignore_errors=True)
    for path in sorted(tree.rglob("*"), reverse=True):
        if path.is_dir() and path.name == "__pycache__":
            shutil.rmtree(path)
        elif path.is_file() and (path.suffix in EXCLUDED_SUFFIXES or (
                path.parent.name.endswith(".dist-info") and path.name in SCRUBBED_DIST_INFO)):
            path.unlink()


def vendor(requirements: Path, cache_dir: Path | None = None) -> Path | None:
    """Install ``requirements`` into a cache folder and return it (None when there is nothing to install).

    The folder is keyed by the sha256 of the requirements file and the Python ``major.minor``, and
    filled with ``pip install --target --no-compile --only-binary=:all:`` (retried without
    ``--only-binary`` when some requirement has no wheel). It appears atomically (rename), so an
    interrupted or concurrent build never sees half an install.

    Raises:
        PackageError: pip failed (its output is in the message).
    """
    if not _requirements_lines(requirements):
        return None
    cache_dir = Path(cache_dir or VENDOR_CACHE_DIR)
    h = hashlib.sha256(requirements.read_bytes())
    h.update(f"\0py{sys.version_info[0]}.{sys.version_info[1]}\0layout{_VENDOR_LAYOUT}".encode())
    target = cache_dir / h.hexdigest()[:32]
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
    try:
        result = _pip_install(requirements, tmp, only_binary=True)
        if result.returncode != 0:
            shutil.rmtree(tmp)
            tmp.mkdir()
            result = _pip_install(requirements, tmp, only_binary=False)
        if result.returncode != 0:
            raise PackageError(f"pip install -r {requirements} failed (exit {result.returncode}):\n"
                               f"{result.stderr.strip() or result.stdout.strip()}")
        _scrub(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():  # not a concurrent build winning the race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _collect(root: Path, *, source: bool) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in (EXCLUDED_DIRS if source else {"__pycache__"}))
        for name in filenames:
            if name.endswith(EXCLUDED_SUFFIXES) or (source and name in EXCLUDED_NAMES):
                continue
            path = Path(dirpath) / name
            files[path.relative_to(root).as_posix()] = path
    return files


def zip_bytes(files: dict[str, Path]) -> bytes:
    """A deterministic zip of ``{archive name: file}`` (see the module docstring for the rules)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name].read_bytes(), compresslevel=DEFLATE_LEVEL)
    return buf.getvalue()


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _zip_with_bytecode(files: dict[str, Path], compile_for: str | None) -> tuple[bytes, list[str]]:
    if compile_for is None:
        return zip_bytes(files), []
    check_compile_for(compile_for)
    with tempfile.TemporaryDirectory(prefix="spotkit-pyc-") as tmp:
        pycs, skipped = bytecode(files, Path(tmp))
        return zip_bytes({**files, **pycs}), skipped


def spotkit_files() -> dict[str, Path]:
    """``{archive name: file}`` of :data:`SPOTKIT_MODULES`, from the imported ``spotkit`` package."""
    import spotkit

    root = Path(spotkit.__file__).resolve().parent.parent
    files: dict[str, Path] = {}
    for entry in SPOTKIT_MODULES:
        path = root / entry
        if path.is_dir():
            files.update({f"{entry}/{name}": p for name, p in _collect(path, source=True).items()})
        elif path.is_file():
            files[entry] = path
        else:
            raise PackageError(f"{path} is missing: the spotkit package is incomplete")
    return files


def _build(function_dir: Path, out_dir: Path, cache_dir: Path | None = None,
           compile_for: str | None = None) -> tuple[Path, bool, list[str]]:
    function_dir = Path(function_dir)
    if not any((function_dir / h).is_file() for h in HANDLER_FILES):
        raise PackageError(f"{function_dir} has no handler file (one of {', '.join(HANDLER_FILES)})")
    files = _collect(function_dir, source=True)
    own = spotkit_files()
    clash = sorted(set(own) & set(files))
    if clash:
        raise PackageError(f"{function_dir.name}: files clash with the vendored spotkit core: {', '.join(clash)}")
    files.update(own)
    vendored = vendor(function_dir / "requirements.txt", cache_dir)
    if vendored is not None:
        deps = _collect(vendored, source=False)
        clash = sorted(set(deps) & set(files))
        if clash:
            raise PackageError(f"{function_dir.name}: files clash with vendored requirements: {', '.join(clash)}")
        files.update(deps)
    out = Path(out_dir) / f"{function_dir.name}.zip"
    data, skipped = _zip_with_bytecode(files, compile_for)
    return out, _write_if_changed(out, data), skipped


def build(function_dir: Path, out_dir: Path, *, cache_dir: Path | None = None,
          compile_for: str | None = None) -> Path:
    """Build ``<out_dir>/<function_dir name>.zip`` deterministically and return its path.

    Args:
        function_dir: a folder with a handler file and optionally ``requirements.txt``.
        out_dir: created if missing.
        cache_dir: vendor cache (default ``.spotkit/vendor-cache``).
        compile_for: ``python3.N`` to add bytecode for that runtime (must be the running Python);
            None (default) for a source-only zip.

    Raises:
        PackageError: no handler file, pip failed, a source file clashes with a vendored one, or
            ``compile_for`` is malformed or not the running Python (:func:`check_compile_for`).
    """
    return _build(function_dir, out_dir, cache_dir, compile_for)[0]


def build_all(out_dir: Path = BUILD_DIR, functions_dir: Path = FUNCTIONS_DIR, *,
              cache_dir: Path | None = None, compile_for: str | None = None) -> list[Path]:
    """:func:`build` every function under ``functions_dir``; returns the zip paths in name order."""
    return [build(d, out_dir, cache_dir=cache_dir, compile_for=compile_for) for d in discover(functions_dir)]


def add_bytecode(zip_path: Path, out: Path, compile_for: str | None = None) -> tuple[Path, list[str]]:
    """Write ``out``: the zip at ``zip_path`` with its bytecode replaced by pycs for ``compile_for``.

    What ``spotkit package --compile-for`` would have built from the same files (any ``__pycache__``
    or ``.pyc`` already in the zip is dropped first); ``spotkit bench`` uses it to time a zip both
    ways.

    Args:
        zip_path: a zip built by :func:`build`.
        out: the zip to write (its folder is created).
        compile_for: ``python3.N``; default: the running Python (:func:`running_runtime`).

    Returns:
        ``(out, [files that did not compile, with the error])``.

    Raises:
        PackageError: ``compile_for`` is malformed or not the running Python, or the compiler failed.
        zipfile.BadZipFile: ``zip_path`` is not a zip.
    """
    compile_for = check_compile_for(compile_for or running_runtime())
    with tempfile.TemporaryDirectory(prefix="spotkit-unzip-") as tmp:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        data, skipped = _zip_with_bytecode(_collect(Path(tmp), source=False), compile_for)
    _write_if_changed(Path(out), data)
    return Path(out), skipped


def _compile_for_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return check_compile_for(value)
    except PackageError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@click.command("package")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=BUILD_DIR,
              show_default=True, help="Folder for the zips.")
@click.option("--compile-for", "compile_for", metavar="python3.N", envvar="SPOTKIT_COMPILE_FOR", default=None,
              callback=_compile_for_option,
              help="Also ship __pycache__/*.cpython-3N.pyc for every .py (hash-based, still byte-identical "
                   "across builds), so cold starts skip compiling from source. Needs to run under that Python "
                   "(exit 2 otherwise): use it where the build Python is pinned to the Lambda runtime's, e.g. "
                   "CI. Default: source only, so the zip (and Terraform's source_code_hash) does not depend on "
                   "the developer's Python.", show_envvar=True)
@click.argument("functions", nargs=-1)
def package_cmd(out_dir: Path, compile_for: str | None, functions: tuple[str, ...]):
    """Build deterministic Lambda zips for FUNCTION... (folders under functions/; default: all).

    Prints each zip's path, size, sha256 and base64 sha256 (what Terraform's filebase64sha256
    shows). Idempotent: an unchanged zip is not rewritten.

    \b
    Source only by default. --compile-for python3.N adds bytecode for the runtime python3.N:
    Lambda's /var/task is read-only, so without it the zip's modules are compiled from source on
    every cold start. Only use it when every build runs that same Python (CI matching the
    function's runtime, e.g. python3.12): the zip's hash is Terraform's source_code_hash, and
    bytecode from another Python would change it (and is never loaded by the runtime anyway).
    """
    available = {d.name: d for d in discover()}
    unknown = [f for f in functions if f not in available]
    if unknown:
        raise click.BadParameter(f"unknown function(s) {', '.join(unknown)}; available: "
                                 f"{', '.join(available) or 'none'}", param_hint="FUNCTION")
    if not available:
        raise click.ClickException(f"no functions under {FUNCTIONS_DIR}")
    for name in functions or sorted(available):
        started = time.monotonic()
        try:
            path, changed, skipped = _build(available[name], out_dir, compile_for=compile_for)
        except PackageError as exc:
            raise click.ClickException(str(exc)) from exc
        d = digest(path)
        status = "written" if changed else "unchanged"
        if compile_for:
            status += f", bytecode for {compile_for}"
        for line in skipped:
            click.echo(f"warning: {name}: no bytecode for {line} (compiled from source at import)", err=True)
        click.echo(f"{path}  {d.size} bytes  sha256={d.sha256}  filebase64sha256={d.sha256_b64}  "
                   f"({status}, {time.monotonic() - started:.1f} s)")
