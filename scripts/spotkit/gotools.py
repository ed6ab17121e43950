"""Lint tools written in Go, built from the Go module proxy: tflint, its AWS ruleset, terraform-docs, actionlint.

None of them ships in a registry package this machine can reach, and release downloads are out
of reach, so ``spotkit setup --lint-tools`` builds each pinned version with the local ``go``:

* sources come from the Go module proxy (``go mod download MODULE@VERSION``, no clone), built as
  the main module with ``-mod=readonly``, so its released ``go.sum`` pins every dependency;
* binaries land in ``<cache>/<tool>/<version>/<binary>`` where ``<cache>`` is ``SPOTKIT_CACHE``
  or ``$XDG_CACHE_HOME/spotkit`` (default ``~/.cache/spotkit``), shared by every clone and by CI
  runs on the same machine; the Go caches (GOPATH/GOMODCACHE/GOCACHE) sit in ``<cache>/go`` so a
  second build of anything reuses the compiled dependencies;
* ``.tools/bin/<binary>`` links to the cached binary, and the AWS ruleset is linked into
  ``.tools/tflint-plugins/<source>/<version>/tflint-ruleset-aws``: the path ``tflint --init``
  would install it to for the ``source``/``version`` in ``.tflint.hcl``, so with
  ``TFLINT_PLUGIN_DIR=.tools/tflint-plugins`` tflint finds it without ``--init`` (offline).

Idempotent: a tool whose binary is already in the cache is only (re)linked. Builds run under
``nice`` with ``-p 2`` and print a progress line every 100 compiled packages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from spotkit.paths import TOOLS_DIR

BIN_DIR = TOOLS_DIR / "bin"
TFLINT_PLUGIN_DIR = TOOLS_DIR / "tflint-plugins"
#: Go this code was checked with; older ones may refuse the modules' ``go`` lines.
MIN_GO = (1, 26, 4)


@dataclass(frozen=True)
class GoTool:
    name: str
    module: str
    version: str
    package: str = ""  # path of the main package inside the module ("" = module root)
    ldflags: str = "-s -w"
    version_args: tuple = ("--version",)
    #: tflint plugin: (source, version without "v") it is installed under in the plugin dir.
    tflint_plugin: Optional[tuple] = None

    @property
    def binary(self) -> str:
        return self.name

    @property
    def target(self) -> str:
        return f"{self.module}/{self.package}".rstrip("/") + f"@{self.version}"


_AWS_RULESET_VERSION = "v0.48.0"
#: Pinned versions (each resolved on the module proxy; bump here and in .tflint.hcl / ci.yml together).
TOOLS = {
    t.name: t
    for t in (
        GoTool("tflint", "github.com/terraform-linters/tflint", "v0.64.0"),
        GoTool(
            "tflint-ruleset-aws",
            "github.com/terraform-linters/tflint-ruleset-aws",
            _AWS_RULESET_VERSION,
            version_args=(),
            tflint_plugin=("github.com/terraform-linters/tflint-ruleset-aws", _AWS_RULESET_VERSION.lstrip("v")),
        ),
        GoTool(
            "terraform-docs",
            "github.com/terraform-docs/terraform-docs",
            "v0.21.0",
            # release builds stamp the commit here; the module zip has no git metadata
            ldflags="-s -w -X github.com/terraform-docs/terraform-docs/internal/version.commit=v0.21.0",
        ),
        GoTool(
            "actionlint",
            "github.com/rhysd/actionlint",
            "v1.7.12",
            package="cmd/actionlint",
            ldflags="-s -w -X github.com/rhysd/actionlint.version=1.7.12",
        ),
    )
}


#: Terraform itself, built only when PATH has no Terraform >= the modules' floor
#: (:mod:`spotkit.toolchain`): 1.5.7 is the last MPL-licensed release, and its module resolves
#: from the Go module proxy alone.
TERRAFORM = GoTool("terraform", "github.com/hashicorp/terraform", "v1.5.7", version_args=("version",))


class GoToolError(RuntimeError):
    """A build could not complete; the message names module, version and the error."""


def _log(msg: str) -> None:
    print(f"[lint-tools] {msg}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    if os.environ.get("SPOTKIT_CACHE"):
        return Path(os.environ["SPOTKIT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spotkit"


def cached_binary(tool: GoTool) -> Path:
    return cache_root() / tool.name / tool.version / tool.binary


def go_env() -> dict:
    """Environment for ``go``: caches under ``<cache>/go``, static binaries, the machine's own Go."""
    go = cache_root() / "go"
    env = dict(os.environ)
    env.update(
        GOPATH=str(go),
        GOMODCACHE=str(go / "pkg" / "mod"),
        GOCACHE=str(go / "cache"),
        GOFLAGS="-buildvcs=false -p=2",
        CGO_ENABLED="0",
    )
    env.setdefault("GOTOOLCHAIN", "local")
    return env


def _go_version(go: str) -> Optional[tuple]:
    try:
        out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"go(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(x or 0) for x in m.groups()) if m else None


def _find_go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None)
    if not go:
        raise GoToolError("no `go` on PATH: install Go >= %s to build the lint tools" % ".".join(map(str, MIN_GO)))
    ver = _go_version(go)
    if ver is None or ver < MIN_GO:
        raise GoToolError(
            f"{go} is Go {'.'.join(map(str, ver or ()))}; the pinned tools need >= {'.'.join(map(str, MIN_GO))} "
            "(or export GOTOOLCHAIN=go1.27.3 to let go fetch an approved toolchain from the module proxy)"
        )
    return go


def build(tool: GoTool, go: Optional[str] = None, log=None) -> Path:
    """Build one tool into the cache (no-op when its binary is there). Returns the binary path.

    ``log`` (default: the ``[lint-tools]`` progress printer) receives the progress lines.

    Raises:
        GoToolError: no usable ``go``, too little disk, or the download/build failed.
    """
    say = log or _log
    dest = cached_binary(tool)
    if dest.is_file() and os.access(dest, os.X_OK):
        say(f"{tool.name} {tool.version}: cached at {dest}")
        return dest
    go = go or _find_go()
    free_gb = shutil.disk_usage(cache_root().parent if not cache_root().exists() else cache_root()).free / 1e9
    if free_gb < 3:
        raise GoToolError(f"{tool.name} {tool.version}: only {free_gb:.1f} GB free for the Go caches (need ~3 GB)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    env = go_env()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        # `go install M@V` would also read the module's version list (for deprecations), which the
        # filtered proxy here refuses for some modules although the tagged version is served; so
        # download the exact version, build it as the main module from a writable copy.
        say(f"{tool.name} {tool.version}: downloading {tool.module}@{tool.version} and its dependencies")
        dl = subprocess.run([go, "mod", "download", "-json", f"{tool.module}@{tool.version}"], cwd=tmp, env=env,
                            capture_output=True, text=True)
        try:
            info = json.loads(dl.stdout or "{}")
        except ValueError:
            info = {}
        if dl.returncode != 0 or not info.get("Dir"):
            raise GoToolError(f"{tool.name}: `go mod download {tool.module}@{tool.version}` failed: "
                              f"{info.get('Error') or dl.stderr.strip() or dl.stdout.strip()}")
        src = Path(tmp) / "src"
        shutil.copytree(info["Dir"], src)
        for path in src.rglob("*"):  # the module cache is read-only
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
        out = Path(tmp) / tool.binary
        cmd = [go, "build", "-v", "-mod=readonly", "-trimpath", "-ldflags", tool.ldflags, "-o", str(out),
               "./" + tool.package]
        if shutil.which("nice"):
            cmd = ["nice", "-n", "15"] + cmd
        say(f"{tool.name} {tool.version}: building (nice, -p 2; caches in {env['GOCACHE']})")
        proc = subprocess.Popen(cmd, cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail: list = []
        count = 0
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-25:]
            if line and not line.startswith(("go: downloading", "go: finding")) and " " not in line:
                count += 1
                if count % 100 == 0:
                    say(f"{tool.name}: {count} packages compiled ({time.monotonic() - t0:.0f} s)")
        rc = proc.wait()
        if rc != 0:
            raise GoToolError(
                f"{tool.name}: `go build` of {tool.module}@{tool.version} failed (exit {rc}):\n  " + "\n  ".join(tail)
            )
        if not out.is_file():
            raise GoToolError(f"{tool.name}: go build succeeded but {out} is missing")
        os.replace(out, dest)
    say(f"{tool.name} {tool.version}: built in {time.monotonic() - t0:.0f} s ({count} packages) -> {dest}")
    return dest


def _link(src: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.is_symlink() and os.readlink(link) == str(src):
            return
        link.unlink()
    link.symlink_to(src)


def link(tool: GoTool, binary: Path) -> Path:
    """Link a built tool into .tools/bin (and, for a tflint plugin, into the plugin dir)."""
    if tool.tflint_plugin:
        source, version = tool.tflint_plugin
        dst = TFLINT_PLUGIN_DIR / source / version / tool.binary
    else:
        dst = BIN_DIR / tool.binary
    _link(binary, dst)
    return dst


def ensure(names: Optional[Iterable[str]] = None) -> dict:
    """Build (if needed) and link the named tools (default: all). Returns name -> linked path.

    A failed build does not stop the others; the errors are raised together at the end.
    """
    names = list(names or TOOLS)
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise GoToolError(f"unknown tool(s) {unknown}; known: {sorted(TOOLS)}")
    go = None
    done, errors = {}, []
    for name in names:
        tool = TOOLS[name]
        try:
            if not cached_binary(tool).is_file():
                go = go or _find_go()
            done[name] = link(tool, build(tool, go))
        except GoToolError as exc:
            errors.append(str(exc))
            _log(f"FAILED {exc}")
    if errors:
        raise GoToolError("\n".join(errors))
    return done


def env() -> dict:
    """Variables for running tflint against the linked plugin dir."""
    return {"TFLINT_PLUGIN_DIR": str(TFLINT_PLUGIN_DIR)}
