"""The experiment's inputs: the CLI options (:class:`ExperimentConfig`) and the environment's
Terraform outputs (:class:`Outputs`)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Callable, Union

from spotkit.chaos.errors import ChaosUsageError

OutputsSource = Union[Mapping, Callable[[str], Mapping], None]

#: The compute environment resource tag that opts it in (outside env ``local``).
OPT_IN_TAG = ("spotkit:chaos", "opt-in")
TAG_CHAOS_RUN = "spotkit:chaos-run"


@dataclass
class ExperimentConfig:
    """Inputs of ``spotkit chaos spot``. Durations are seconds.

    ``method`` None picks the compute environment's default (:func:`spotkit.chaos.methods.default_for`);
    ``instances``/``percent`` bound the blast radius (default: 1 instance); ``jobs`` probe jobs plus,
    with ``array_size`` >= 2, one array probe job of that size.
    """

    env: str = "local"
    method: str | None = None
    instances: int | None = None
    percent: float | None = None
    jobs: int = 1
    array_size: int = 0
    job_id: str | None = None  # adopt this active job instead of submitting probe jobs
    native_retry: bool = False  # prove the job definition's retryStrategy instead of the Lambda
    timeout: float = 300.0  # per wait
    probe_seconds: int = 900  # how long the probe jobs sleep
    poll_interval: float = 2.0
    #: After every watched job is RUNNING again, keep looking for late (duplicate) successors this long.
    settle_seconds: float = 10.0
    keep_jobs: bool = False  # do not terminate the probe jobs at the end
    i_know_this_is_prod: bool = False
    dry_run: bool = False
    #: Override the environment's Terraform outputs (names or ARNs; ``None``: from the outputs). With all of
    #: job_queue, job_definition and compute_environment given, no outputs need to exist (Batch that
    #: spotkit's Terraform did not create).
    job_queue: str | None = None
    job_definition: str | None = None
    compute_environment: str | None = None
    fis_template_id: str | None = None  # chaos_spot_interruption_template_id

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Outputs:
    """The Terraform outputs the experiment reads (names or ARNs)."""

    job_queue: str
    job_definition: str
    compute_environment: str
    resubmit_function_name: str | None = None
    chaos_spot_interruption_template_id: str | None = None
    chaos_fis_role_arn: str | None = None
    chaos_stop_condition_alarm_arn: str | None = None
    chaos_opt_in_tag: tuple = OPT_IN_TAG  # (key, value)
    fallback_job_queue: str | None = None  # resubmit_fallback_job_queue_arn: successors may land there
    resubmit_rule_name: str | None = None  # the EventBridge rule feeding the resubmit function
    #: The kit's own job queues as the outputs name them (job_queue_arn, on_demand_job_queue_arn,
    #: resubmit_fallback_job_queue_arn), whatever the overrides say.
    kit_job_queues: tuple = ()


def _unwrap(value):
    # Accept both {"name": value} and terraform's {"name": {"value": value, ...}}.
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _opt_in_tag(value) -> tuple:
    """``chaos_opt_in_tag`` as ``(key, value)``: accepts ``{"key":…, "value":…}``, ``{key: value}``,
    ``"key=value"`` or a bare key (value ``opt-in``)."""
    if not value:
        return OPT_IN_TAG
    if isinstance(value, dict):
        if "key" in value:
            return str(value["key"]), str(value.get("value") or OPT_IN_TAG[1])
        (k, v), = value.items()
        return str(k), str(v)
    key, _, val = str(value).partition("=")
    return key, val or OPT_IN_TAG[1]


#: ExperimentConfig field -> the Terraform output it overrides.
OVERRIDES = {
    "job_queue": "job_queue_arn",
    "job_definition": "job_definition_arn",
    "compute_environment": "compute_environment_arn",
    "fis_template_id": "chaos_spot_interruption_template_id",
}


def resolve_outputs(source: OutputsSource, env: str, overrides: Mapping | None = None) -> Outputs:
    """Read the outputs of ``env`` from ``source`` (a mapping, ``env -> mapping`` or None for
    :func:`spotkit.tf.outputs`); ``overrides`` (ExperimentConfig field -> value, see :data:`OVERRIDES`)
    win over them. When the overrides name the job queue, job definition and compute environment, outputs
    that cannot be read are not an error.

    Raises:
        ChaosUsageError: a required output is missing, or reading them failed.
    """
    given = {OVERRIDES[k]: v for k, v in dict(overrides or {}).items() if k in OVERRIDES and v}
    standalone = all(OVERRIDES[k] in given for k in ("job_queue", "job_definition", "compute_environment"))
    if source is None:
        from spotkit.tf import outputs as source
    try:
        raw = source(env) if callable(source) else source
    except Exception as exc:  # noqa: BLE001 - terraform missing, not applied, bad settings
        if not standalone:
            raise ChaosUsageError(f"env {env!r} is not usable: {type(exc).__name__}: {exc}") from exc
        raw = {}
    out = {k: _unwrap(v) for k, v in dict(raw or {}).items()}
    kit_queues = tuple(dict.fromkeys(q for q in (out.get("job_queue_arn"), out.get("on_demand_job_queue_arn"),
                                                 out.get("resubmit_fallback_job_queue_arn")) if q))
    out.update(given)
    resolved = {}
    for thing in ("job_queue", "job_definition", "compute_environment"):
        value = out.get(f"{thing}_arn") or out.get(f"{thing}_name")
        if not value:
            raise ChaosUsageError(
                f"the outputs of env {env!r} have neither {thing}_arn nor {thing}_name; "
                "is the environment applied (`spotkit tf apply`)?"
            )
        resolved[thing] = value
    return Outputs(
        **resolved,
        resubmit_function_name=out.get("resubmit_function_name"),
        chaos_spot_interruption_template_id=out.get("chaos_spot_interruption_template_id"),
        chaos_fis_role_arn=out.get("chaos_fis_role_arn"),
        chaos_stop_condition_alarm_arn=out.get("chaos_stop_condition_alarm_arn"),
        chaos_opt_in_tag=_opt_in_tag(out.get("chaos_opt_in_tag")),
        fallback_job_queue=out.get("resubmit_fallback_job_queue_arn"),
        resubmit_rule_name=out.get("resubmit_rule_name"),
        kit_job_queues=kit_queues,
    )


def readonly_outputs(env: str) -> dict:
    """The outputs of ``env`` for ``--dry-run``, read without writing anything where possible.

    An emulator environment (local backend): straight from its Terraform state file
    (``.spotkit/<env>-<port>/terraform.tfstate``, key ``outputs``); no toolchain check, no rendering of
    ``terraform/<env>/``, no ``terraform init``; ``{}`` when nothing was applied. Any other
    environment: :func:`spotkit.tf.outputs` (``terraform output -json``), which may write LOCAL files
    only: ``terraform/<env>/`` re-rendered from settings.yaml (only files whose content changed) and,
    the first time, the Terraform binary and provider mirror under ``.spotkit/``. ``terraform output``
    reads the state (a remote backend is read, never locked or written); nothing is written in AWS.

    Raises:
        Exception: settings, state file or Terraform errors (:func:`resolve_outputs` reports them).
    """
    from spotkit.envs import load_environment

    environment = load_environment(env)
    path = environment.state_path() if environment.emulator else None
    if path is None:
        from spotkit.tf import outputs

        return outputs(env)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {name: (meta or {}).get("value") for name, meta in (data.get("outputs") or {}).items()}


def new_run_id() -> str:
    """``chaos-<UTC yyyymmddThhmmssZ>-<6 hex>``: sortable, unique, valid in a Batch job name and tag."""
    return f"chaos-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
