"""``spotkit scan``: checkov over the kit's Terraform (or the paths given), offline.

Settings live in ``.checkov.yaml`` at the repository root (framework, skip paths, no download);
spotkit's own Spot-readiness policies (CKV_SPOTKIT_<n>, ``spotkit.policies``) run next to
checkov's built-in checks. checkov is never imported here: it runs as a subprocess from its own
tool virtualenv (:mod:`spotkit.scantools`: ``~/.cache/spotkit/checkov/<version>/``, built on first
use or by ``spotkit setup --scan-tools``; ``SPOTKIT_CHECKOV`` names another), with
``--skip-download``, ``BC_SKIP_MAPPING=TRUE`` and no Prisma Cloud API key in its environment, so
the scan makes no network call. Every .tf file is parsed first, with the HCL parser checkov itself
uses (bc-python-hcl2, the version checkov pins, a light main dependency), because checkov counts
an unparsable file and carries on without it.

``--plan ENV`` scans an environment's plan instead: :func:`spotkit.tf.plan_json` (``terraform
plan -out`` then ``terraform show -json``, with the kit's Terraform driver) and checkov's
``terraform_plan`` framework with the same policies; in a plan every value Terraform knows before
apply is resolved (module defaults, settings, ``optional()`` attributes), which checkov cannot do
on the .tf source.

Exit status: 0 no failed check; 1 at least one failed check; 2 bad input (a path that does not
exist, a malformed .tf file, invalid settings, the emulator not up, a failed plan) or checkov
itself did not finish. docs/scanning.md has the details.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import click

from spotkit import paths as kit_paths
from spotkit import scantools
from spotkit.paths import REPO_ROOT

CONFIG_FILE = REPO_ROOT / ".checkov.yaml"
FORMATS = ("cli", "sarif", "junitxml")
#: File names checkov gives each output under --output-file-path (kept in --output-dir).
RESULT_FILES = {"cli": "results_cli.txt", "sarif": "results_sarif.sarif", "junitxml": "results_junitxml.xml",
                "json": "results_json.json"}
#: For paths given on the command line the project's skip-path list (written for the repository:
#: it skips tests/, where the policies' failing fixtures live) is replaced by this one: a path the
#: user names is scanned. checkov itself always skips hidden directories (.terraform, .venv).
EXPLICIT_SKIP_PATHS = (r"(^|/)\.terraform/",)
#: Environment variables that would connect checkov to a Prisma Cloud / Bridgecrew account.
PLATFORM_ENV = ("BC_API_KEY", "PRISMA_API_URL", "BC_API_URL", "CKV_API_KEY")


class ScanInputError(Exception):
    """A path or file checkov cannot be given: one line for the user, exit status 2."""


@dataclass
class Target:
    path: Path  # what checkov gets (-d for a directory, -f for a file)
    label: str  # how the user sees it
    skip_paths: tuple[str, ...] | None  # None: the .checkov.yaml list
    plan: bool = False  # path is a `terraform show -json` plan (checkov's terraform_plan framework)
    #: with plan: the Terraform root the plan was made from. checkov reads its .tf files and the
    #: modules they call for line numbers and the inline `checkov:skip` comments, matched to plan
    #: resources by type.name (checkov.common.output.report.Report.handle_skipped_checks).
    source_root: Path | None = None


@dataclass
class Summary:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    parsing_errors: int = 0
    resources: int = 0
    failed_ids: dict[str, int] = field(default_factory=dict)

    def add(self, report: dict) -> None:
        s = report.get("summary", report)
        self.passed += int(s.get("passed", 0))
        self.failed += int(s.get("failed", 0))
        self.skipped += int(s.get("skipped", 0))
        self.parsing_errors += int(s.get("parsing_errors", 0))
        self.resources += int(s.get("resource_count", 0))
        for check in (report.get("results") or {}).get("failed_checks", []):
            cid = check.get("check_id", "?")
            self.failed_ids[cid] = self.failed_ids.get(cid, 0) + 1


# ----------------------------------------------------------------------------- configuration

def project_skip_paths(config_file: Path = CONFIG_FILE) -> list[str]:
    """The ``skip-path`` regular expressions of .checkov.yaml."""
    import yaml

    if not config_file.is_file():
        return []
    data = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    return [str(p) for p in data.get("skip-path") or []]


def kit_policies_dir() -> Path | None:
    """spotkit's checkov policies directory, or None when this install has none."""
    try:
        from spotkit.policies import policies_dir
    except ImportError:
        return None
    path = Path(policies_dir())
    return path if path.is_dir() else None


def default_targets() -> list[Target]:
    return [Target(REPO_ROOT, "the kit (" + ", ".join(f"{d}/" for d in kit_dirs()) + ")", None)]


def kit_dirs(root: Path = REPO_ROOT) -> list[str]:
    """The kit's Terraform folders (names): modules, environment roots and examples."""
    return [d.name for d in kit_paths.kit_terraform_dirs(root)]


def resolve_targets(paths: tuple[str, ...]) -> list[Target]:
    if not paths:
        return default_targets()
    targets = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise ScanInputError(f"no such file or directory: {raw}")
        if p.is_file() and not raw.endswith((".tf", ".tf.json")):
            raise ScanInputError(f"not a Terraform file (.tf, .tf.json) or directory: {raw}")
        targets.append(Target(p.resolve(), raw, EXPLICIT_SKIP_PATHS))
    return targets


# ----------------------------------------------------------------------------- HCL pre-check

def _skipped(path: str, patterns: list[re.Pattern]) -> bool:
    return any(p.search(path) for p in patterns)


def terraform_files(target: Target, skip_paths: list[str]) -> list[Path]:
    """The .tf / .tf.json files checkov would read under ``target`` (hidden folders and skip paths left out)."""
    if target.path.is_file():
        return [target.path]
    patterns = []
    for s in skip_paths:
        try:
            patterns.append(re.compile(s))
        except re.error:
            continue
    found = []
    for dirpath, dirnames, filenames in os.walk(target.path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "node_modules"
                             and not _skipped(os.path.join(dirpath, d) + "/", patterns))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if name.endswith((".tf", ".tf.json")) and not _skipped(full, patterns):
                found.append(Path(full))
    return found


def _display(path: Path) -> str:
    """``path`` relative to the working directory when it is under it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def parse_error(path: Path) -> str | None:
    """One line describing why ``path`` is not valid HCL / JSON, or None when it parses."""
    import hcl2

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return f"{_display(path)}: cannot read: {exc}"
    try:
        if path.name.endswith(".json"):
            json.loads(text)
        else:
            hcl2.loads(text)
    except json.JSONDecodeError as exc:
        return f"{_display(path)}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"
    except Exception as exc:  # lark's errors (UnexpectedToken, UnexpectedCharacters, ...) and the parser's own
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        where = f":{line}:{column}" if isinstance(line, int) and line > 0 else ""
        token = getattr(exc, "token", None)
        if token is not None:
            what = f"unexpected {str(token)!r}"
        else:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            what = re.sub(r"\s+at line \d+, column \d+\.?$", "", first)
        return f"{_display(path)}{where}: HCL parse error: {what}"
    return None


def precheck(targets: list[Target]) -> list[int]:
    """Parse every Terraform file; raise ScanInputError naming the first that does not parse.

    Returns how many files each target holds."""
    counts = []
    for t in targets:
        skips = list(t.skip_paths) if t.skip_paths is not None else project_skip_paths()
        files = terraform_files(t, skips)
        for f in files:
            error = parse_error(f)
            if error:
                raise ScanInputError(error)
        counts.append(len(files))
    return counts


# ----------------------------------------------------------------------------- checkov

def checkov_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PLATFORM_ENV}
    env["BC_SKIP_MAPPING"] = "TRUE"  # no download of the Prisma Cloud id mapping
    env.setdefault("LOG_LEVEL", "WARNING")
    env["PYTHONWARNINGS"] = "ignore"
    return env


def checkov_command(target: Target, out_dir: Path, formats: list[str], external_dir: Path | None,
                    checkov: tuple[str, ...]) -> list[str]:
    if target.plan:
        # Not .checkov.yaml: its framework (terraform) and directory (.) would scan the source too.
        cmd = [*checkov, "--skip-download", "--framework", "terraform_plan", "-f", str(target.path),
               "--repo-root-for-plan-enrichment", str(target.source_root or REPO_ROOT), "--compact", "--quiet"]
        if external_dir is not None:
            cmd += ["--external-checks-dir", str(external_dir)]
        for fmt in [*formats, "json"]:
            cmd += ["--output", fmt]
        return cmd + ["--output-file-path", str(out_dir)]
    cmd = [*checkov, "--config-file", str(CONFIG_FILE), "--skip-download"]
    cmd += ["-f" if target.path.is_file() else "-d", str(target.path)]
    if target.skip_paths is not None:
        for s in target.skip_paths:
            cmd += ["--skip-path", s]
    if external_dir is not None:
        cmd += ["--external-checks-dir", str(external_dir)]
    for fmt in [*formats, "json"]:
        cmd += ["--output", fmt]
    cmd += ["--output-file-path", str(out_dir)]
    return cmd


def run_checkov(target: Target, out_dir: Path, formats: list[str], external_dir: Path | None,
                checkov: tuple[str, ...]) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = checkov_command(target, out_dir, formats, external_dir, checkov)
    # A plan scan runs beside the plan, not in the repository root: checkov also reads a
    # .checkov.yaml from its working directory, and with the kit's (framework terraform, directory .)
    # it drops the inline skips that --repo-root-for-plan-enrichment finds in the source (measured:
    # 0 skipped from the root, the kit's 3 applicable skips from elsewhere, checkov 3.3.30).
    cwd = target.path.parent if target.plan else REPO_ROOT
    proc = subprocess.run(cmd, cwd=cwd, env=checkov_env(), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result_json = out_dir / RESULT_FILES["json"]
    if proc.returncode not in (0, 1) or not result_json.is_file():
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else "no output"
        raise RuntimeError(f"checkov exited {proc.returncode} on {target.label}: {last}")
    data = json.loads(result_json.read_text(encoding="utf-8"))
    return {"reports": data if isinstance(data, list) else [data]}


# ----------------------------------------------------------------------------- outputs

def normalize_sarif(doc: dict) -> dict:
    """Make checkov's SARIF valid SARIF 2.1.0.

    checkov 3.3.30 writes a check's details (e.g. which variable looks like a secret) as
    ``attachments: [{"description": "<text>"}]``; SARIF's attachment needs an ``artifactLocation``
    and a message object as ``description``. The details go into the result's message instead.
    """
    for run in doc.get("runs", []):
        for result in run.get("results", []):
            attachments = result.pop("attachments", None) or []
            details = []
            for a in attachments:
                d = a.get("description") if isinstance(a, dict) else None
                details.append(d.get("text") if isinstance(d, dict) else d)
            details = [str(d) for d in details if d]
            if details:
                message = result.setdefault("message", {})
                message["text"] = f"{message.get('text', '').rstrip()} ({'; '.join(details)})".lstrip()
    return doc


def merge_sarif(files: list[Path]) -> str:
    docs = [normalize_sarif(json.loads(f.read_text(encoding="utf-8"))) for f in files]
    merged = dict(docs[0])
    merged["runs"] = [run for d in docs for run in d.get("runs", [])]
    return json.dumps(merged, indent=2)


def merge_junit(files: list[Path]) -> str:
    root = ET.Element("testsuites")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for f in files:
        tree = ET.parse(f).getroot()
        suites = [tree] if tree.tag == "testsuite" else list(tree.iter("testsuite"))
        for suite in suites:
            root.append(suite)
            for k in totals:
                totals[k] += int(suite.get(k, 0) or 0)
    for k, v in totals.items():
        root.set(k, str(v))
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def combine(fmt: str, files: list[Path]) -> str:
    if fmt == "sarif":
        return merge_sarif(files)
    if len(files) == 1:
        return files[0].read_text(encoding="utf-8")
    if fmt == "junitxml":
        return merge_junit(files)
    return "\n".join(f.read_text(encoding="utf-8").rstrip("\n") for f in files) + "\n"


# ----------------------------------------------------------------------------- command

def _formats_option(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str]:
    """--format cli --format sarif and --format cli,sarif: the formats in the order given, once each."""
    out: list[str] = []
    for item in value or ("cli",):
        for fmt in (f.strip().lower() for f in item.split(",")):
            if fmt not in FORMATS:
                raise click.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}")
            if fmt not in out:
                out.append(fmt)
    return out


def _fail(message: str) -> None:
    click.echo(f"spotkit scan: {message}", err=True)
    sys.exit(2)


@click.command("scan")
@click.argument("paths", nargs=-1, metavar="[PATH ...]")
@click.option("--format", "formats", multiple=True, metavar="FORMAT[,FORMAT]", callback=_formats_option,
              help="cli (default), sarif, junitxml; several as a comma list or by repeating the option.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write each format to DIR/results_<format>.<ext> instead of standard output.")
@click.option("--plan", "plan_env", metavar="ENV",
              help="Scan the plan of environment ENV (settings.yaml) instead of .tf files: terraform plan -out + "
                   "terraform show -json with spotkit's Terraform, then checkov's terraform_plan framework. "
                   "Emulator environments (local) need `spotkit local up` first; others need their AWS credentials.")
@click.option("--policies-dir", "show_policies_dir", is_flag=True,
              help="Print the directory of spotkit's checkov policies (for checkov --external-checks-dir) and exit.")
def scan_cmd(paths: tuple[str, ...], formats: list[str], output_dir: Path | None, plan_env: str | None,
             show_policies_dir: bool) -> None:
    """Scan Terraform with checkov, offline: the kit's modules/, terraform/ and examples/ by default.

    With --plan ENV the environment's plan is scanned instead, where every value known before apply
    is resolved (the .tf source leaves values that come through variables unresolved, and checkov
    then neither passes nor fails the check). Terraform's progress goes to standard error.

    Settings come from .checkov.yaml at the repository root; a finding the kit accepts is skipped
    inline (#checkov:skip=<ID>:<reason>). Reports go to standard output (progress and the summary
    to standard error), or with --output-dir to DIR/results_cli.txt, results_sarif.sarif (SARIF
    2.1.0) and results_junitxml.xml. Exit status: 0 no failed check, 1 a failed check, 2 bad
    input (no such path, a malformed .tf file) or checkov did not finish.
    """
    if show_policies_dir:
        d = kit_policies_dir()
        if d is None:
            _fail("spotkit's checkov policies (spotkit.policies) are not in this install")
        click.echo(str(d))
        return
    fmts = formats
    if plan_env and paths:
        _fail("give either --plan ENV or PATH ..., not both")
    plan_dir = tempfile.TemporaryDirectory(prefix="spotkit-scan-plan-") if plan_env else None
    try:
        started = time.monotonic()
        if plan_env:
            targets = [plan_target(plan_env, Path(plan_dir.name))]
            n_files = [1]
        else:
            targets = resolve_targets(paths)
            n_files = precheck(targets)
    except ScanInputError as exc:
        _fail(str(exc))
    external = kit_policies_dir()
    if external is None:
        click.echo("spotkit scan: spotkit's own policies (spotkit.policies) are not in this install; "
                   "running checkov's built-in checks only", err=True)
    try:
        tool = scantools.ensure(quiet=True)  # builds the tool venv on first use (progress on stderr)
    except scantools.ScanToolError as exc:
        _fail(f"no checkov to run: {exc}".replace("\n", " | "))
    version = tool.version

    policy_note = f" + spotkit policies ({_display(external)})" if external else ""
    with tempfile.TemporaryDirectory(prefix="spotkit-scan-") as tmp:
        summary = Summary()
        outs = []
        for i, t in enumerate(targets):
            what = "terraform_plan" if t.plan else f"{n_files[i]} Terraform file(s)"
            click.echo(f"spotkit scan: checkov {version} (offline){policy_note} on {t.label}, {what} ...", err=True)
            out = Path(tmp) / str(i)
            try:
                result = run_checkov(t, out, fmts, external, tool.command)
            except RuntimeError as exc:
                _fail(str(exc))
            for report in result["reports"]:
                summary.add(report)
            outs.append(out)
        if summary.parsing_errors:
            _fail(f"checkov could not parse {summary.parsing_errors} file(s) that the HCL check accepted; "
                  "run checkov with LOG_LEVEL=DEBUG to see which")
        written = []
        for fmt in fmts:
            text = combine(fmt, [o / RESULT_FILES[fmt] for o in outs])
            if output_dir is None:
                click.echo(text, nl=not text.endswith("\n"))
            else:
                output_dir.mkdir(parents=True, exist_ok=True)
                dest = output_dir / RESULT_FILES[fmt]
                dest.write_text(text, encoding="utf-8")
                written.append(_display(dest))
                if fmt == "cli":
                    click.echo(text, nl=not text.endswith("\n"), err=True)
    elapsed = time.monotonic() - started
    verdict = "FAILED" if summary.failed else "clean"
    failing = ""
    if summary.failed_ids:
        failing = " (" + ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(summary.failed_ids.items())) + ")"
    click.echo(f"spotkit scan: {verdict}: {summary.passed} passed, {summary.failed} failed{failing}, "
               f"{summary.skipped} skipped inline, in {elapsed:.1f} s", err=True)
    if written:
        click.echo("spotkit scan: wrote " + ", ".join(written), err=True)
    sys.exit(1 if summary.failed else 0)


def plan_target(env: str, work: Path) -> Target:
    """Write the plan JSON of environment ``env`` to ``work/tfplan.json`` and return it as a Target.

    Raises:
        ScanInputError: invalid or unknown environment, placeholders left, the emulator not up,
            no Terraform or provider to plan with, or Terraform failed (its own error output is
            printed to standard error first).
    """
    from spotkit import tf, toolchain

    try:
        doc = tf.plan_json(env)
    except tf.TerraformFailed as exc:
        raise ScanInputError(f"--plan {env}: {exc.message}") from exc
    except click.ClickException as exc:  # SettingsError, SettingsInvalid, EmulatorDown
        raise ScanInputError(f"--plan {env}: " + "; ".join(exc.format_message().splitlines())) from exc
    except toolchain.ToolchainError as exc:  # no Terraform / hashicorp/aws: the message says what to do
        raise ScanInputError(f"--plan {env}: {exc}") from exc
    path = work / "tfplan.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return Target(path, f"the plan of environment {env!r} (terraform show -json)", None, plan=True,
                  source_root=kit_paths.TERRAFORM_DIR / env)


def main() -> None:  # pragma: no cover - python -m spotkit.scan
    scan_cmd()


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["scan_cmd", "kit_policies_dir", "parse_error", "FORMATS", "RESULT_FILES"]
