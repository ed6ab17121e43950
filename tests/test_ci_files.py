"""The CI files: GitHub workflows parsed and checked for what matters, .pre-commit-config.yaml's local
hooks run for real on a throwaway git copy of the checkout.

Hooks need their tools: .venv/bin (make setup) and .tools/bin (make lint-tools builds the Go ones
into ~/.cache/spotkit; this module links any already built there). A hook whose binary is absent
is skipped with the reason, never passed silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
PRE_COMMIT = REPO / ".pre-commit-config.yaml"
VENV_BIN = Path(sys.executable).parent
TOOLS_BIN = REPO / ".tools" / "bin"

sys.path.insert(0, str(REPO / "scripts"))
from spotkit import gotools  # noqa: E402


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _on(workflow: dict) -> dict:
    # YAML 1.1 reads the bare key `on` as boolean True
    trig = workflow.get("on", workflow.get(True))
    return {trig: None} if isinstance(trig, str) else dict(trig or {})


def _steps(job: dict) -> list:
    return job.get("steps", [])


def _uses(job: dict, action: str) -> list:
    return [s for s in _steps(job) if str(s.get("uses", "")).split("@")[0] == action]


def _runs(job: dict) -> str:
    return "\n".join(str(s.get("run", "")) for s in _steps(job))


@pytest.fixture(scope="module")
def ci() -> dict:
    return _load(WORKFLOWS / "ci.yml")


@pytest.fixture(scope="module")
def chaos() -> dict:
    return _load(WORKFLOWS / "chaos-dev.yml")


# --- workflows -------------------------------------------------------------------------------


def test_every_workflow_parses_and_pins_actions():
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {f.name for f in files} >= {"ci.yml", "chaos-dev.yml"}
    for f in files:
        wf = _load(f)
        assert wf.get("name") and _on(wf) and wf.get("jobs"), f.name
        # least privilege at the top; jobs widen it themselves
        assert wf.get("permissions") == {"contents": "read"}, f.name
        assert wf.get("concurrency"), f.name
        for job_id, job in wf["jobs"].items():
            assert job.get("timeout-minutes"), f"{f.name}:{job_id} has no timeout"
            for step in _steps(job):
                if "uses" in step:
                    ref = step["uses"].split("@")
                    assert len(ref) == 2 and (re.fullmatch(r"v\d+", ref[1]) or re.fullmatch(r"[0-9a-f]{40}", ref[1])), (
                        f"{f.name}:{job_id}: {step['uses']} is not pinned to a major version or a commit SHA")


def test_no_stored_aws_keys_anywhere_in_github_dir():
    for f in (REPO / ".github").rglob("*"):
        if f.is_file():
            text = f.read_text()
            for needle in ("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "aws-access-key-id"):
                assert needle not in text, f"{f}: {needle}"


def test_ci_triggers_and_jobs(ci):
    assert {"pull_request", "push"} <= set(_on(ci))
    assert {"lint", "validate", "provider-matrix", "scan", "test", "plan"} <= set(ci["jobs"])
    lint = ci["jobs"]["lint"]
    assert "terraform fmt -check" in _runs(lint)
    assert "ruff check" in _runs(lint)
    assert _uses(lint, "terraform-linters/setup-tflint")
    assert "tflint --init" in _runs(lint) and "tflint --chdir" in _runs(lint)
    assert _uses(lint, "terraform-linters/setup-tflint")[0]["with"]["tflint_version"] == "${{ env.TFLINT_VERSION }}"
    assert ci["env"]["TFLINT_VERSION"] == gotools.TOOLS["tflint"].version
    assert "make test" in _runs(ci["jobs"]["test"])


def test_validate_covers_every_environment(ci):
    settings = _load(REPO / "settings.yaml")
    job = ci["jobs"]["validate"]
    assert set(job["strategy"]["matrix"]["env"]) == set(settings["environments"])
    runs = _runs(job)
    assert "spotkit env render" in runs and "init -backend=false" in runs and "terraform validate" in runs
    assert _uses(job, "hashicorp/setup-terraform")


def test_provider_matrix_validates_everything_on_latest_5_and_6(ci):
    """Real terraform validate on the newest hashicorp/aws 5.x and 6.x (docs/providers.md, "The 6.x check")."""
    job = ci["jobs"]["provider-matrix"]
    assert job["strategy"]["matrix"]["aws"] == ["~> 5.0", "~> 6.0"]
    assert job["strategy"]["fail-fast"] is False
    assert _uses(job, "hashicorp/setup-terraform")
    steps = {s.get("name", ""): s for s in _steps(job)}
    override = next(s for n, s in steps.items() if n.startswith("override the hashicorp/aws constraint"))
    assert override["env"]["AWS_CONSTRAINT"] == "${{ matrix.aws }}"
    # an *_override.tf in every module, example and root: its required_providers entry replaces the base one
    assert re.search(r"for d in modules/\*/ examples/\*/ terraform/\*/", override["run"])
    assert 'spotkit_ci_override.tf"' in override["run"] and 'source  = "hashicorp/aws"' in override["run"]
    assert "required_providers" in override["run"] and 'version = "%s"' in override["run"]
    runs = _runs(job)
    assert "init -backend=false" in runs and "terraform -chdir=\"$d\" validate" in runs
    assert "spotkit env render" in runs and ".terraform.lock.hcl" in runs  # roots rendered for the registry provider
    # every folder the override step writes is one the validate step visits
    loop = re.search(r"for d in (.+?); do", override["run"]).group(1)
    assert f"for d in {loop}; do" in next(s["run"] for n, s in steps.items() if n.startswith("terraform init"))
    # and a plan on each major: terraform test (mock_provider) of every module and example
    test_step = next(s for n, s in steps.items() if n.startswith("terraform test"))
    assert "for d in modules/*/ examples/*/; do" in test_step["run"]
    assert 'terraform -chdir="$d" test' in test_step["run"]
    names = list(steps)
    assert names.index(test_step["name"]) > names.index(override["name"])  # with the override in place


def test_validate_job_keeps_a_committed_lock_read_only(ci):
    run = next(s["run"] for s in _steps(ci["jobs"]["validate"]) if "init" in (s.get("run") or ""))
    assert "if [ -f .terraform.lock.hcl ]; then lock=-lockfile=readonly" in run and "init -backend=false" in run


def test_scan_uploads_sarif_to_code_scanning(ci):
    job = ci["jobs"]["scan"]
    assert job["permissions"].get("security-events") == "write"
    scan = next(s for s in _steps(job) if "spotkit scan" in str(s.get("run", "")))
    cmd = scan["run"]
    assert re.search(r"--format\s+\S*sarif", cmd)
    out_dir = re.search(r"--output-dir\s+(\S+)", cmd).group(1)
    upload = _uses(job, "github/codeql-action/upload-sarif")
    # spotkit scan --output-dir DIR writes DIR/results_sarif.sarif (scripts/spotkit/scan.py)
    from spotkit import scan as scan_mod

    assert upload and upload[0]["with"]["sarif_file"] == f"{out_dir}/{scan_mod.RESULT_FILES['sarif']}"
    assert "always()" in upload[0].get("if", "")  # findings are uploaded even when the scan fails


def test_plan_per_environment_through_oidc(ci):
    job = ci["jobs"]["plan"]
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    envs = [m["env"] for m in job["strategy"]["matrix"]["include"]]
    assert sorted(envs) == ["dev", "prod"]
    assert "vars.AWS_PLAN_ROLE_ARN" in job["if"]  # no role configured: no plan
    creds = _uses(job, "aws-actions/configure-aws-credentials")
    assert len(creds) == 1
    role = creds[0]["with"]["role-to-assume"]
    assert "vars" in job["env"]["PLAN_ROLE_ARN"] and role == "${{ env.PLAN_ROLE_ARN }}"
    assert set(creds[0]["with"]) <= {"role-to-assume", "role-session-name", "aws-region", "role-duration-seconds"}
    assert 'spotkit tf plan --env "${{ matrix.env }}"' in _runs(job)
    # only jobs that assume a role get an OIDC token
    for job_id, other in ci["jobs"].items():
        if job_id != "plan":
            assert (other.get("permissions") or {}).get("id-token") is None, job_id


def test_chaos_is_on_demand_in_dev_only(chaos):
    from spotkit.chaos.cli import spot_cmd

    on = _on(chaos)
    assert list(on) == ["workflow_dispatch"]
    inputs = on["workflow_dispatch"]["inputs"]
    assert {"env", "method", "instances", "dry-run"} <= set(inputs)
    assert inputs["env"]["options"] == ["dev"]
    assert inputs["dry-run"]["type"] == "boolean" and inputs["dry-run"]["default"] is True
    methods = next(p for p in spot_cmd.params if p.name == "method").type.choices
    assert set(inputs["method"]["options"]) == set(methods)
    assert chaos["concurrency"]["cancel-in-progress"] is False
    (job,) = chaos["jobs"].values()
    assert job["environment"] == "dev"
    assert job["permissions"]["id-token"] == "write"
    assert "make chaos-spot ENV=" in _runs(job)
    assert _uses(job, "aws-actions/configure-aws-credentials")[0]["with"]["role-to-assume"].startswith("${{ vars.")
    upload = _uses(job, "actions/upload-artifact")[0]
    assert {f"reports/chaos-latest.{ext}" for ext in ("json", "xml", "html")} <= set(upload["with"]["path"].split())
    assert upload["if"] == "always()"
    reporter = _uses(job, "dorny/test-reporter")[0]
    assert reporter["with"]["path"] == "reports/chaos-latest.xml" and reporter["with"]["reporter"] == "java-junit"


def test_actionlint():
    binary = _tool("actionlint")
    proc = subprocess.run([str(binary), "-color=false", *map(str, sorted(WORKFLOWS.glob("*.yml")))],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pinned_versions_agree():
    tflint_hcl = (REPO / ".tflint.hcl").read_text()
    source, version = gotools.TOOLS["tflint-ruleset-aws"].tflint_plugin
    assert f'version = "{version}"' in tflint_hcl and f'source  = "{source}"' in tflint_hcl
    assert 'preset  = "recommended"' in tflint_hcl
    tfdocs = _load(REPO / ".terraform-docs.yml")
    assert gotools.TOOLS["terraform-docs"].version.lstrip("v") in tfdocs["version"].replace(">= ", "")


# --- pre-commit ------------------------------------------------------------------------------

HOOK_TOOLS = {  # hook id -> the binaries it needs
    "terraform-fmt": ["terraform"],
    "terraform-docs": ["terraform-docs"],
    "tflint": ["tflint", "tflint-ruleset-aws"],
    "spotkit-scan": ["spotkit"],
    "ruff": ["ruff"],
}


def _tool(name: str) -> Path:
    """Path of a tool the hooks call; skip (with the reason) when it is not there."""
    if name in ("ruff", "spotkit", "pre-commit"):
        path = REPO / ".venv" / "bin" / name
        if not path.exists():
            path = VENV_BIN / name
    elif name in gotools.TOOLS:
        tool = gotools.TOOLS[name]
        cached = gotools.cached_binary(tool)
        if not cached.is_file():
            pytest.skip(f"{name} {tool.version} not built (make lint-tools builds it into {cached.parent})")
        path = gotools.link(tool, cached)  # cheap: relinks the cached build into this checkout
    else:
        path = TOOLS_BIN / name
    if not path.exists():
        pytest.skip(f"{path} is absent (make setup / make lint-tools)")
    return path


def test_pre_commit_config_uses_local_hooks_only():
    config = _load(PRE_COMMIT)
    assert config["repos"] and all(r["repo"] == "local" for r in config["repos"])
    hooks = [h for r in config["repos"] for h in r["hooks"]]
    assert [h["id"] for h in hooks] == list(HOOK_TOOLS)
    for h in hooks:
        assert h["language"] in ("system", "script"), h["id"]
        # each calls a tool of this checkout, never one fetched by pre-commit
        assert re.search(r"(\.venv/bin|\.tools/bin)/", h["entry"]), h["entry"]
        assert "additional_dependencies" not in h, h["id"]


def test_pre_commit_is_a_dev_dependency():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'"pre-commit==4\.7\.0"', pyproject)


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    """A git repo holding a copy of the checkout's tracked + untracked (not ignored) files, with
    .venv and .tools linked in, so the hooks see exactly what `pre-commit run --all-files` would."""
    pre_commit = _tool("pre-commit")
    root = tmp_path_factory.mktemp("hooks") / "repo"
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, listed):
        src, dst = REPO / rel, root / rel
        if src.is_symlink():  # terraform/<env>/{variables,outputs}.tf -> ../shared/
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(os.readlink(src))
        elif src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    for link in (".venv", ".tools"):
        if (REPO / link).exists():
            (root / link).symlink_to(REPO / link)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(git + ["init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(git + ["add", "-A"], cwd=root, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "copy"], cwd=root, check=True)
    root.joinpath(".pre-commit-bin").write_text(str(pre_commit))
    return root


@pytest.mark.parametrize("hook", list(HOOK_TOOLS))
def test_pre_commit_hook_passes(hook, hook_repo, tmp_path):
    for name in HOOK_TOOLS[hook]:
        _tool(name)
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), SPOTKIT_HOME=str(hook_repo),
               SKIP="", PRE_COMMIT_COLOR="never")
    pre_commit = hook_repo.joinpath(".pre-commit-bin").read_text()
    proc = subprocess.run([pre_commit, "run", "--all-files", "--show-diff-on-failure", hook], cwd=hook_repo,
                          env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Passed" in proc.stdout, proc.stdout  # ran, not "(no files to check)Skipped"


def test_pre_commit_hooks_catch_a_stale_readme_and_a_bad_instance_type(hook_repo, tmp_path):
    """The hooks fail for real: a README table edited by hand, an invalid instance type (AWS ruleset)."""
    for name in ("terraform-docs", "tflint", "tflint-ruleset-aws"):
        _tool(name)
    readme = hook_repo / "modules" / "job-queue" / "README.md"
    main_tf = hook_repo / "modules" / "batch-compute" / "main.tf"
    saved = {p: p.read_text() for p in (readme, main_tf)}
    try:
        readme.write_text(saved[readme].replace("Job queue ARN.", "Stale description."))
        main_tf.write_text(saved[main_tf] + '\nresource "aws_instance" "bad" {\n'
                           '  ami           = "ami-12345678"\n  instance_type = "t9.huge"\n}\n')
        env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), PRE_COMMIT_COLOR="never")
        pre_commit = hook_repo.joinpath(".pre-commit-bin").read_text()
        for hook, expected in (("terraform-docs", "out of date: modules/job-queue/README.md"),
                               ("tflint", "aws_instance_invalid_type")):
            proc = subprocess.run([pre_commit, "run", "--all-files", hook], cwd=hook_repo, env=env,
                                  capture_output=True, text=True, timeout=180)
            assert proc.returncode != 0 and expected in proc.stdout, proc.stdout[-3000:]
    finally:
        for p, text in saved.items():
            p.write_text(text)
