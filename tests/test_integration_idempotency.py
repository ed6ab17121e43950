"""End to end on the local emulator: the applied stack's idempotency table is what the function uses.

Same stage as tests/test_integration_chaos.py (kit copy, emulator on a free port, real Terraform
apply of the local root), own instance for this module. Checks the table Terraform made, the
function's environment, and that a chaos run leaves exactly one COMPLETED record naming the
resubmitted job; destroy removes the table.
"""

from __future__ import annotations

import json

import boto3
import pytest
from test_integration_chaos import stage  # noqa: F401  (module-scoped fixture, one emulator here)

pytestmark = pytest.mark.integration


def _ddb(clients):
    kw = clients["batch"].meta
    return boto3.client("dynamodb", endpoint_url=kw.endpoint_url, region_name=kw.region_name,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _outputs(run) -> dict:
    outputs = json.loads(run("tf", "outputs", "--env", "local").stdout)
    return {k: (v["value"] if isinstance(v, dict) and "value" in v else v) for k, v in outputs.items()}


def test_table_and_function_wiring(stage):  # noqa: F811
    run, _, _, clients = stage
    values = _outputs(run)
    table = values["idempotency_table_name"]
    assert table == "spotkit-local-resubmit-idempotency"
    ddb = _ddb(clients)
    desc = ddb.describe_table(TableName=table)["Table"]
    assert desc["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert desc["SSEDescription"]["Status"] == "ENABLED"
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiration")
    pitr = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    env = clients["lambda"].get_function_configuration(
        FunctionName=values["resubmit_function_name"])["Environment"]["Variables"]
    assert env["SPOTKIT_IDEMPOTENCY_TABLE"] == table
    assert env["SPOTKIT_IDEMPOTENCY_TTL_SECONDS"] == "86400"


def test_chaos_resubmission_is_recorded_once(stage):  # noqa: F811
    run, _, home, clients = stage
    run("chaos", "spot", "--env", "local", "--poll-interval", "0.5", "--timeout", "120", "--probe-seconds", "300")
    report = json.loads((home / "reports" / "chaos-latest.json").read_text())
    assert report["passed"] is True and report["recovery"] == "resubmitted"
    items = _ddb(clients).scan(TableName=_outputs(run)["idempotency_table_name"])["Items"]
    assert [(i["status"]["S"], json.loads(i["data"]["S"])["jobId"]) for i in items] == [
        ("COMPLETED", report["recovered_job_id"])]


def test_destroy_removes_the_table(stage):  # noqa: F811
    run, _, _, clients = stage
    run("tf", "destroy", "--env", "local")
    assert _ddb(clients).list_tables()["TableNames"] == []
