"""``spotkit provider-check`` (scripts/spotkit/provider_check.py, provider_schema.py; docs/providers.md).

The kit's Terraform against hashicorp/aws 6.69.1 (its schema read from the pinned cdktn-provider-aws
wheel's jsii assembly: downloaded once from PyPI into ~/.cache/spotkit/provider-schema/) and against
the real hashicorp/aws 5.100.0 of the local filesystem mirror where this machine has it. The jsii
reading is checked against that real 5.100.0 schema type by type: the two may differ only by the
documented 5.100 -> 6.69.1 changes below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from spotkit import provider_check as pc
from spotkit import provider_schema as ps
from spotkit.paths import kit_terraform_dirs

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "provider_schema"
PRE_ISSUE_14 = FIXTURES / "pre-issue-14"
V6 = f"hashicorp/aws {ps.WHEEL.provider_version}"

#: A file exercising every rule of the checker; MECHANICS_FINDINGS is what it must give, exactly.
MECHANICS_TF = """\
resource "aws_sqs_queue" "q" {
  count = 1
  name  = "q"
  bogus = true

  dynamic "nope" {
    for_each = []
    content {
      x = 1
    }
  }

  lifecycle {
    ignore_changes = [tags, not_there]
  }
}

resource "aws_batch_compute_environment" "ce" {
  type = "MANAGED"

  compute_resources {
    type      = "SPOT"
    max_vcpus = 4
    subnets   = []
    wrong_arg = 1

    dynamic "launch_template" {
      for_each = [1]
      content {
        launch_template_id = "lt-1"
        not_an_lt_arg      = 2
      }
    }
  }

  depends_on = [aws_sqs_queue.q]
}

resource "aws_batch_job_queue" "jq" {
  name     = "jq"
  priority = 1
}

resource "aws_no_such_type" "x" {}

data "aws_region" "r" {}

locals {
  fine_try    = try(aws_sqs_queue.q[0].arn, null)
  bad_splat   = aws_sqs_queue.q[*].no_attr
  not_checked = [for q in aws_sqs_queue.q : q.whatever]
  nested_ok   = aws_batch_compute_environment.ce.compute_resources[0].desired_vcpus
  nested_bad  = aws_batch_compute_environment.ce.compute_resources[0].nope_nested
  in_template = "${data.aws_region.r.regionx}-x"
  in_for      = { for k, v in aws_sqs_queue.q : k => aws_sqs_queue.q[0].url2 }
  region_ok   = data.aws_region.r.region
}

output "o" {
  value = aws_sqs_queue.q.*.bad_legacy_splat
}
"""
MECHANICS_FINDINGS = [
    f'main.tf:4: aws_sqs_queue.q: argument "bogus" does not exist in {V6}',
    f'main.tf:6: aws_sqs_queue.q: block "nope" (dynamic) does not exist in {V6}',
    f'main.tf:14: aws_sqs_queue.q: lifecycle.ignore_changes names attribute "not_there", which does not exist in {V6}',
    f'main.tf:25: aws_batch_compute_environment.ce: argument "wrong_arg" in block "compute_resources" does not '
    f"exist in {V6}",
    f'main.tf:31: aws_batch_compute_environment.ce: argument "not_an_lt_arg" in block '
    f'"compute_resources.launch_template" does not exist in {V6}',
    f'main.tf:39: aws_batch_job_queue.jq: required argument "state" is not set ({V6})',
    f"main.tf:44: aws_no_such_type.x: resource type aws_no_such_type does not exist in {V6}",
    f'main.tf:50: aws_sqs_queue.q: attribute "no_attr" does not exist in {V6} (read in locals)',
    f'main.tf:53: aws_batch_compute_environment.ce: attribute "nope_nested" does not exist in {V6} (read in locals)',
    f'main.tf:54: data.aws_region.r: attribute "regionx" does not exist in {V6} (read in locals)',
    f'main.tf:55: aws_sqs_queue.q: attribute "url2" does not exist in {V6} (read in locals)',
    f'main.tf:60: aws_sqs_queue.q: attribute "bad_legacy_splat" does not exist in {V6} (read in output.o)',
]

# --------------------------------------------------------------------------- 5.100.0 -> 6.69.1
# Every difference between the jsii reading (6.69.1) and the real 5.100.0 schema, for the types the
# kit uses. Anything else that differs means the jsii is misread (or the kit took up a new type whose
# changes must be looked up and listed here).
#
# From the Version 6 Upgrade Guide (website/docs/guides/version-6-upgrade.html.markdown,
# hashicorp/terraform-provider-aws):
GUIDE = "Version 6 Upgrade Guide"
#: "Enhanced Region Support: Version 6.0.0 adds `region` to most resources" (not to global ones: IAM, ...).
REGION_ADDED = [
    ("resource", t) for t in (
        "aws_batch_compute_environment", "aws_batch_job_definition", "aws_batch_job_queue",
        "aws_cloudwatch_event_rule", "aws_cloudwatch_event_target",
        "aws_cloudwatch_log_group", "aws_cloudwatch_metric_alarm", "aws_default_security_group",
        "aws_dynamodb_table", "aws_fis_experiment_template", "aws_kms_alias", "aws_kms_key",
        "aws_lambda_event_source_mapping", "aws_lambda_function", "aws_security_group", "aws_sns_topic",
        "aws_sns_topic_policy", "aws_sqs_queue", "aws_sqs_queue_policy", "aws_subnet", "aws_vpc")
] + [("data", "aws_availability_zones"), ("data", "aws_region")]
KNOWN_6_0 = {
    **{f"{k} {t}: argument region: added": f"{GUIDE}, Enhanced Region Support" for k, t in REGION_ADDED},
    "resource aws_batch_compute_environment: argument compute_environment_name: removed":
        f"{GUIDE}, Resource aws_batch_compute_environment: renamed to name",
    "resource aws_batch_compute_environment: argument compute_environment_name_prefix: removed":
        f"{GUIDE}, Resource aws_batch_compute_environment: renamed to name_prefix",
    "resource aws_batch_compute_environment: argument name: added":
        f"{GUIDE}, Resource aws_batch_compute_environment",
    "resource aws_batch_compute_environment: argument name_prefix: added":
        f"{GUIDE}, Resource aws_batch_compute_environment",
    "resource aws_batch_job_queue: argument compute_environments: removed":
        f"{GUIDE}, Resource aws_batch_job_queue: use compute_environment_order blocks",
}
#: Not in the 6.0 guide: later 6.x minor releases. Each only adds an optional argument, block or
#: attribute, or makes a required argument optional (asserted below), so none can break
#: configuration written for 5.100; listed one by one so that a misread name cannot hide here.
LATER_6_X = [
    "resource aws_lambda_event_source_mapping amazon_managed_kafka_event_source_config: "
    "block schema_registry_config: added",
    "resource aws_lambda_event_source_mapping provisioned_poller_config: argument poller_group_name: added",
    "resource aws_lambda_event_source_mapping self_managed_kafka_event_source_config: "
    "block schema_registry_config: added",
    "resource aws_lambda_event_source_mapping: argument use_resource_timeout_for_propagation: added",
    "resource aws_lambda_event_source_mapping: block timeouts: added",
    "resource aws_batch_compute_environment compute_resources.ec2_configuration: "
    "argument image_kubernetes_version: added",
    "resource aws_batch_compute_environment update_policy: argument job_execution_timeout_minutes: "
    "required -> optional",
    "resource aws_batch_compute_environment update_policy: argument terminate_jobs_on_update: required -> optional",
    "resource aws_batch_job_definition eks_properties.pod_properties.containers.security_context: "
    "argument allow_privilege_escalation: added",
    "resource aws_batch_job_definition eks_properties.pod_properties.init_containers.security_context: "
    "argument allow_privilege_escalation: added",
    "resource aws_cloudwatch_log_group: argument deletion_protection_enabled: added",
    "resource aws_cloudwatch_metric_alarm: argument comparison_operator: required -> optional",
    "resource aws_cloudwatch_metric_alarm: argument evaluation_interval: added",
    "resource aws_cloudwatch_metric_alarm: argument evaluation_periods: required -> optional",
    "resource aws_cloudwatch_metric_alarm: block evaluation_criteria: added",
    "resource aws_cloudwatch_metric_alarm: block evaluation_window: added",
    "resource aws_cloudwatch_metric_alarm: block warm_up_configuration: added",
    "resource aws_dynamodb_table: argument restore_backup_arn: added",
    "resource aws_dynamodb_table global_secondary_index: argument hash_key: required -> optional",
    "resource aws_dynamodb_table global_secondary_index: block key_schema: added",
    "resource aws_dynamodb_table global_secondary_index: block warm_throughput: added",
    "resource aws_dynamodb_table: block global_table_witness: added",
    "resource aws_dynamodb_table replica: argument consistency_mode: added",
    "resource aws_dynamodb_table replica: argument deletion_protection_enabled: added",
    "resource aws_dynamodb_table: block warm_throughput: added",
    "resource aws_lambda_function: argument code_sha256: added",
    "resource aws_lambda_function: argument publish_to: added",
    "resource aws_lambda_function: argument source_kms_key_arn: added",
    "resource aws_lambda_function: argument use_resource_timeout_for_propagation: added",
    "resource aws_lambda_function: block capacity_provider_config: added",
    "resource aws_lambda_function: block durable_config: added",
    "resource aws_lambda_function: block tenancy_config: added",
    "resource aws_lambda_function: attribute response_streaming_invoke_arn: added",
    "resource aws_sns_topic: argument maximum_message_size: added",
    "resource aws_subnet: argument ipv4_ipam_pool_id: added",
    "resource aws_subnet: argument ipv4_netmask_length: added",
    "resource aws_subnet: argument ipv6_ipam_pool_id: added",
    "resource aws_subnet: argument ipv6_netmask_length: added",
]


def schema_diff(new: dict, old: dict) -> list:
    """Differences ``new`` (6.x) vs ``old`` (5.100) as ``"<kind> <type>[ <block path>]: <what> <name>: <change>"``."""
    out = []

    def walk(n6: dict, n5: dict, head: str, path: str) -> None:
        where = f"{head} {path}" if path else head
        for key, what in (("arguments", "argument"), ("blocks", "block")):
            for name in sorted(set(n6[key]) | set(n5[key])):
                if name not in n5[key]:
                    out.append(f"{where}: {what} {name}: added{', required' if n6[key][name]['required'] else ''}")
                elif name not in n6[key]:
                    out.append(f"{where}: {what} {name}: removed")
                elif n6[key][name]["required"] != n5[key][name]["required"]:
                    was, now = ("required", "optional") if n5[key][name]["required"] else ("optional", "required")
                    out.append(f"{where}: {what} {name}: {was} -> {now}")
                if key == "blocks" and name in n5[key] and name in n6[key]:
                    walk(n6[key][name], n5[key][name], head, f"{path}.{name}" if path else name)
        settable = set(n6["arguments"]) | set(n6["blocks"]) | set(n5["arguments"]) | set(n5["blocks"])
        for name in sorted((set(n6["attributes"]) ^ set(n5["attributes"])) - settable):
            out.append(f"{where}: attribute {name}: {'added' if name in n6['attributes'] else 'removed'}")

    for kind in ps.KINDS:
        for tf_type in sorted(set(new[kind]) | set(old[kind])):
            if new[kind].get(tf_type) is None or old[kind].get(tf_type) is None:
                out.append(f"{kind} {tf_type}: type {'added' if old[kind].get(tf_type) is None else 'removed'}")
                continue
            walk(new[kind][tf_type], old[kind][tf_type], f"{kind} {tf_type}", "")
    return out


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def kit_files() -> list:
    files = ps.tf_files(kit_terraform_dirs(REPO))
    assert any("modules/job-queue/main.tf" in str(f) for f in files)
    return files


@pytest.fixture(scope="session")
def kit_types(kit_files) -> dict:
    return pc.referenced_types(kit_files)


@pytest.fixture(scope="session")
def schema6(kit_types, tmp_path_factory) -> dict:
    """6.69.1 for the kit's types plus those of the fixtures (the wheel downloads once per machine)."""
    mech = tmp_path_factory.mktemp("wanted") / "main.tf"
    mech.write_text(MECHANICS_TF)
    extra = pc.referenced_types(ps.tf_files([PRE_ISSUE_14, mech]))
    wanted = {k: sorted(set(kit_types[k]) | set(extra[k])) for k in ps.KINDS}
    return ps.schema_6(wanted)


@pytest.fixture(scope="session")
def schema5(kit_types) -> dict:
    found = ps.real_schema(kit_types)
    if found is None:
        pytest.skip(f"no hashicorp/aws {ps.REAL_5_VERSION} binary in the filesystem mirror {ps.MIRROR_DIR} "
                    "(the CI workflow's provider-matrix job runs real 5.x/6.x validate instead)")
    return found


def _only(schema: dict, types: dict) -> dict:
    return {**schema, **{k: {t: schema[k][t] for t in types[k]} for k in ps.KINDS}}


def spotkit(*args: str, env: dict | None = None, cwd: Path = REPO):
    return subprocess.run([sys.executable, "-m", "spotkit.cli", "provider-check", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


# --------------------------------------------------------------------------- (a), (b): the kit


def test_a_kit_against_hashicorp_aws_6(kit_files, schema6):
    """The modules and roots as they are fit hashicorp/aws 6.69.1 (tests/provider_schema/pre-issue-14
    holds the shape that did not, and its findings)."""
    findings = [str(f) for f in pc.check(kit_files, schema6)]
    assert findings == [], "the kit does not fit hashicorp/aws 6.69.1:\n" + "\n".join(findings)


def test_b_kit_against_real_hashicorp_aws_5_100(kit_files, schema5):
    assert schema5["version"] == ps.REAL_5_VERSION
    findings = [str(f) for f in pc.check(kit_files, schema5)]
    assert findings == [], "the kit does not fit hashicorp/aws 5.100.0:\n" + "\n".join(findings)


# --------------------------------------------------------------------------- (c): jsii vs the real 5.100.0


def test_c_jsii_reading_agrees_with_real_5_100(kit_types, schema6, schema5):
    new, old = _only(schema6, kit_types), _only(schema5, kit_types)
    diff = schema_diff(new, old)
    expected = set(KNOWN_6_0) | set(LATER_6_X)
    assert len(expected) == len(KNOWN_6_0) + len(LATER_6_X)  # no entry listed twice
    unexplained = sorted(set(diff) - expected)
    stale = sorted(expected - set(diff))
    assert not unexplained, "jsii (6.69.1) and 5.100.0 differ beyond the documented changes:\n" + "\n".join(unexplained)
    assert not stale, "documented changes the two schemas no longer show (remove them):\n" + "\n".join(stale)
    for entry in LATER_6_X:  # later minors only widen what is accepted
        assert entry.endswith((": added", ": required -> optional")), entry
    # the agreement is about something: every kit type, hundreds of names, nested blocks, computed attributes
    assert {k: sorted(new[k]) for k in ps.KINDS} == kit_types
    compared = sum(len(n["attributes"]) for k in ps.KINDS for n in old[k].values())
    assert compared > 300, compared
    assert {"arn", "id", "tags_all"} <= set(new["resource"]["aws_batch_job_queue"]["attributes"])
    assert new["resource"]["aws_batch_compute_environment"]["blocks"]["compute_resources"]["blocks"]["launch_template"]
    required = {n for n, a in new["resource"]["aws_lambda_function"]["arguments"].items() if a["required"]}
    assert required == {n for n, a in old["resource"]["aws_lambda_function"]["arguments"].items() if a["required"]}
    assert "function_name" in required and "role" in required


# --------------------------------------------------------------------------- (d): the pre-issue-14 shapes


def test_d_catches_the_pre_issue_14_shapes(schema6):
    findings = [str(f) for f in pc.check(ps.tf_files([PRE_ISSUE_14]), schema6)]
    rel = PRE_ISSUE_14.relative_to(REPO)
    assert findings == [
        f'{rel}/batch-compute.tf:8: aws_batch_compute_environment.spot: argument "compute_environment_name" '
        f"does not exist in {V6}",
        f'{rel}/batch-compute.tf:58: aws_batch_compute_environment.on_demand: argument "compute_environment_name" '
        f"does not exist in {V6}",
        f'{rel}/job-queue.tf:15: aws_batch_job_queue.this: argument "compute_environments" does not exist in {V6}',
        f'{rel}/reads.tf:6: aws_batch_compute_environment.spot: attribute "compute_environment_name" does not exist '
        f"in {V6} (read in output.spot_compute_environment_name)",
        f'{rel}/reads.tf:11: aws_batch_compute_environment.on_demand: attribute "compute_environment_name" does not '
        f"exist in {V6} (read in output.on_demand_compute_environment_name)",
    ]


def test_d_aws_region_name_is_a_documented_gap(schema6, schema5):
    """6.0 deprecates data.aws_region's `name` for `region` (upgrade guide); 6.69.1 still has it and the jsii
    carries no deprecation, so a read of it is not a finding (docs/providers.md says so)."""
    region6 = schema6["data"]["aws_region"]
    assert {"name", "region"} <= set(region6["attributes"])
    assert "region" not in schema5["data"]["aws_region"]["attributes"]  # so `.region` breaks 5.x
    reads = [str(f) for f in pc.check([PRE_ISSUE_14 / "reads.tf"], schema6)]
    assert reads and not any("aws_region" in f for f in reads)


def test_the_pre_issue_14_shapes_were_valid_for_5_100(schema5):
    assert [str(f) for f in pc.check(ps.tf_files([PRE_ISSUE_14]), schema5)] == []


# --------------------------------------------------------------------------- the checker's rules


def test_checker_rules_on_a_synthetic_file(schema6, tmp_path):
    f = tmp_path / "main.tf"
    f.write_text(MECHANICS_TF)
    got = [str(x).replace(f"{tmp_path}/", "") for x in pc.check([f], schema6)]
    assert got == MECHANICS_FINDINGS


def test_references_are_found_in_expressions():
    refs = [(k, t, n, a) for k, t, n, a, _ in pc.references(
        "${try(aws_iam_role.service[0].arn, data.aws_region.r.name)}-${aws_x.y[*].a.b} ${var.aws_q.r.s} "
        "${local.aws_p.q.r} ${aws_sqs_queue.q}")]
    assert refs == [("resource", "aws_iam_role", "service", ["arn"]), ("data", "aws_region", "r", ["name"]),
                    ("resource", "aws_x", "y", ["a", "b"]), ("resource", "aws_sqs_queue", "q", [])]
    assert list(pc.references("aws_iam_role.service.arn is only text")) == []


def test_normalize_terraform_shape():
    doc = {"provider_schemas": {ps.REGISTRY_SOURCE: {"resource_schemas": {"aws_t": {"block": {
        "attributes": {"a": {"required": True}, "b": {"optional": True, "computed": True}, "arn": {"computed": True}},
        "block_types": {"blk": {"min_items": 1, "block": {"attributes": {"c": {"optional": True}}}},
                        "opt": {"block": {}}}}}}, "data_source_schemas": {}}}}
    got = ps.normalize_terraform(doc, "9.9.9", {"resource": ["aws_t", "aws_gone"], "data": []}, "test")
    assert got["resource"]["aws_gone"] is None
    assert got["resource"]["aws_t"] == {
        "arguments": {"a": {"required": True}, "b": {"required": False}},
        "blocks": {"blk": {"required": True, "arguments": {"c": {"required": False}}, "blocks": {},
                           "attributes": ["c"]},
                   "opt": {"required": False, "arguments": {}, "blocks": {}, "attributes": []}},
        "attributes": ["a", "arn", "b", "blk", "opt"],
    }


def test_normalize_jsii_refuses_another_provider_release():
    assembly = {"types": {"@cdktn/provider-aws.x.X": {
        "kind": "class", "base": "cdktn.TerraformResource",
        "docs": {"summary": "Represents a {@link https://registry.terraform.io/providers/hashicorp/aws/6.0.0/docs/"
                            "resources/x aws_x}."}}}}
    with pytest.raises(ps.SchemaError, match=r"documents hashicorp/aws \['6.0.0'\], not the pinned 6.69.1"):
        ps.normalize_jsii(assembly, {"resource": ["aws_x"]})


# --------------------------------------------------------------------------- the pinned wheel


def test_the_pinned_wheel_is_what_it_says(schema6):
    wheel = ps.wheel_path()
    assert wheel.is_file() and wheel.stat().st_size == ps.WHEEL.size
    assert ps._sha256(wheel) == ps.WHEEL.sha256
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"cdktn_provider_aws-{ps.WHEEL.version}.dist-info/METADATA").decode()
    assert f"Version: {ps.WHEEL.version}\n" in meta
    assert f"prebuilt bindings for hashicorp/aws provider version {ps.WHEEL.provider_version}" in meta
    cached = json.loads((ps.cache_dir() / f"aws-{ps.WHEEL.provider_version}.json").read_text())
    assert cached["_meta"]["sha256"] == ps.WHEEL.sha256 and cached["version"] == ps.WHEEL.provider_version


# --------------------------------------------------------------------------- the CLI


def test_cli_help_explains_checks_and_exit_status():
    proc = spotkit("--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for needle in ("--major [5|6]", "each argument and nested block", "each required one", "attribute read",
                   "NOT checked", "Exit status: 0 no finding; 1 findings; 2 cannot run", ps.WHEEL.requirement):
        assert needle in text, needle


def test_cli_exit_1_with_findings_and_0_when_clean(schema6, tmp_path):
    proc = spotkit(str(PRE_ISSUE_14))
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stdout.splitlines()) == 5
    assert 'job-queue.tf:15: aws_batch_job_queue.this: argument "compute_environments" does not exist' in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("spotkit provider-check: 5 finding(s): 3 file(s)")
    (tmp_path / "ok.tf").write_text('resource "aws_sqs_queue" "q" {\n  name = "q"\n}\n'
                                    'output "arn" {\n  value = aws_sqs_queue.q.arn\n}\n')
    proc = spotkit(str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == "" and "spotkit provider-check: clean: 1 file(s)" in proc.stderr


def test_cli_exit_2_without_network_or_cache(tmp_path):
    """No cached wheel, no index: one line, exit 2. A corrupt cached wheel is removed, not used."""
    cache = tmp_path / "cache"
    (cache / "provider-schema").mkdir(parents=True)
    (cache / "provider-schema" / ps.WHEEL.filename).write_bytes(b"not a wheel")
    links = tmp_path / "no-links"
    links.mkdir()
    env = {"SPOTKIT_CACHE": str(cache), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(links), "PIP_INDEX_URL": ""}
    proc = spotkit(str(PRE_ISSUE_14), env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"spotkit provider-check: cannot run: cannot download {ps.WHEEL.requirement} from PyPI "
                           "(no network? no cached copy at "), last
    assert "not the pinned" in proc.stderr  # the corrupt copy was noticed ...
    assert not (cache / "provider-schema" / ps.WHEEL.filename).exists()  # ... and removed
    assert proc.stdout == ""


def test_cli_exit_2_on_bad_input(tmp_path):
    proc = spotkit(str(tmp_path / "absent"))
    assert proc.returncode == 2 and proc.stderr.strip() == (
        f"spotkit provider-check: cannot run: no such file or directory: {tmp_path / 'absent'}")
    (tmp_path / "bad.tf").write_text('resource "aws_sqs_queue" "q" {\n  name = \n}\n')
    proc = spotkit(str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(f"spotkit provider-check: cannot run: {tmp_path / 'bad.tf'}: not valid HCL")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_major_5_without_mirror_says_so(tmp_path):
    proc = spotkit("--major", "5", str(PRE_ISSUE_14), env={"SPOTKIT_PROVIDER_MIRROR": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"spotkit provider-check: cannot run: no hashicorp/aws {ps.REAL_5_VERSION} binary "
        f"in the filesystem mirror {tmp_path} (set SPOTKIT_PROVIDER_MIRROR to another mirror)")
