"""``fis-spot-interruption``: AWS FIS ``aws:ec2:send-spot-instance-interruptions`` on the chosen instances.

How AWS's own Batch workshop interrupts Spot capacity: the experiment sends each target the Spot
Instance Interruption Warning (and possibly a rebalance recommendation), then interrupts it after
``durationBeforeInterruption`` (e.g. PT2M); Batch ends the attempt ``Host EC2 (instance i-…)
terminated.``. It works for every Spot compute environment (Spot Fleet or Batch-managed Auto Scaling
groups) and changes nothing that Batch manages.

The kit's template (Terraform output ``chaos_spot_interruption_template_id``, module chaos-fis)
holds the role, the action's parameters and the stop conditions; each run makes a RUN-SCOPED copy
(same role, action parameters and stop conditions; target ``resourceArns`` = the chosen instances,
``selectionMode`` ALL; tag ``spotkit:chaos-run`` = run id), starts it, and deletes it at the end.
FIS takes at most 5 ``resourceArns`` per target: more than 5 instances are split into chunks of 5,
one target (``<name>-<k>``) and one copy of each action (``<name>-<k>``) per chunk, all started together.
Undo entries, written before each call: ``delete-fis-template``, then ``stop-fis-experiment``.

AWS pages: https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#send-spot-instance-interruptions,
https://docs.aws.amazon.com/fis/latest/APIReference/API_CreateExperimentTemplate.html,
https://docs.aws.amazon.com/fis/latest/APIReference/API_GetExperiment.html,
https://docs.aws.amazon.com/fis/latest/userguide/stop-conditions.html.
"""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from spotkit.chaos import state as statelib
from spotkit.chaos.config import TAG_CHAOS_RUN
from spotkit.chaos.errors import ChaosUsageError, ExperimentFailed
from spotkit.chaos.methods import choose_targets  # noqa: F401  (module interface: the default choice)

NAME = "fis-spot-interruption"
SUMMARY = "AWS FIS aws:ec2:send-spot-instance-interruptions (warning, then interruption) on the chosen instances"
FIS_STOP_CONDITION = True

ACTION_ID = "aws:ec2:send-spot-instance-interruptions"
RESOURCE_TYPE = "aws:ec2:spot-instance"
ALARM_SOURCE = "aws:cloudwatch:alarm"
#: Experiment states after which nothing more happens (GetExperiment ``state.status``).
FINISHED = ("completed", "stopped", "failed", "cancelled")
#: States in which StopExperiment has nothing left to do: finished, or already ``stopping`` (a second
#: StopExperiment may be answered ConflictException).
STOPPED_OR_STOPPING = ("stopping", *FINISHED)
#: FIS takes at most 5 ``resourceArns`` per target (CreateExperimentTemplateTargetInput; CloudFormation
#: ExperimentTemplateTarget ResourceArns "Maximum: 5"): more instances get one target + one action each 5.
MAX_RESOURCE_ARNS = 5
_DURATION = re.compile(r"^PT(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?$")


def iso_seconds(duration: str | None) -> float:
    """Seconds in an ISO 8601 duration such as ``PT2M`` or ``PT1M30S`` (0 when absent or unreadable)."""
    m = _DURATION.match((duration or "").strip().upper())
    if not m:
        return 0.0
    return sum(float(m.group(k) or 0) * f for k, f in (("h", 3600), ("m", 60), ("s", 1)))


def refusal(ce, outputs, config) -> str | None:
    if not ce.spot:
        return (f"--method {NAME} interrupts Spot instances; compute environment {ce.name} is "
                f"{ce.resource_type or 'UNMANAGED'}. Use --method terminate-instance")
    if not outputs.chaos_spot_interruption_template_id:
        return ("the environment has no chaos_spot_interruption_template_id output (apply the chaos-fis module), "
                "so the FIS method cannot run; pass --method terminate-instance (or fleet-capacity on a "
                "BEST_FIT compute environment)")
    return None


def _template(ctx) -> dict:
    if "template" not in ctx.data:
        tid = ctx.outputs.chaos_spot_interruption_template_id
        try:
            tmpl = ctx.client("fis").get_experiment_template(id=tid)["experimentTemplate"]
        except ClientError as exc:
            raise ChaosUsageError(f"FIS experiment template {tid} (output chaos_spot_interruption_template_id) "
                                  f"cannot be read: {exc}") from None
        actions = {n: a for n, a in (tmpl.get("actions") or {}).items() if a.get("actionId") == ACTION_ID}
        if not actions:
            raise ChaosUsageError(f"FIS experiment template {tid} has no {ACTION_ID} action")
        ctx.data["template"], ctx.data["actions"] = tmpl, actions
    return ctx.data["template"]


def stop_condition(ctx) -> str | None:
    """The template's ``aws:cloudwatch:alarm`` stop condition(s), enforced by FIS itself."""
    alarms = [s.get("value") for s in _template(ctx).get("stopConditions") or [] if s.get("source") == ALARM_SOURCE]
    return ", ".join(a for a in alarms if a) + " (FIS stop condition)" if any(alarms) else None


def duration(ctx) -> float:
    """``durationBeforeInterruption`` of the template's action, seconds (AWS time, before scaling)."""
    _template(ctx)
    return max((iso_seconds((a.get("parameters") or {}).get("durationBeforeInterruption"))
                for a in ctx.data["actions"].values()), default=0.0)


def expected_delay(ctx) -> float:
    return duration(ctx) * ctx.time_scale


def chunks(targets: list) -> list:
    """``targets`` in chunks of at most :data:`MAX_RESOURCE_ARNS`, in order."""
    return [targets[i:i + MAX_RESOURCE_ARNS] for i in range(0, len(targets), MAX_RESOURCE_ARNS)] or [[]]


def split_text(count: int, ctx) -> str:
    """How ``count`` targets are laid out in the run-scoped template (for the plan)."""
    n = len(chunks(list(range(count))))
    per = len(ctx.data["actions"])
    if n <= 1:
        return f"1 target of {count} instance(s)"
    return (f"{n} targets + {n * per} actions (at most {MAX_RESOURCE_ARNS} resourceArns per FIS target; one "
            f"{ACTION_ID} action per target, all started together)")


def plan(ctx) -> dict:
    tmpl = _template(ctx)
    params = {n: (a.get("parameters") or {}) for n, a in ctx.data["actions"].items()}
    count = ctx.data.get("planned_targets")
    layout = f"; {split_text(count, ctx)}" if count else ""
    scale = f" (x{ctx.time_scale:g} on the emulator: {expected_delay(ctx):g} s)" if ctx.time_scale != 1.0 else ""
    return {"actions": [f"fis:CreateExperimentTemplate run-scoped copy of {tmpl.get('id')} (role "
                        f"{tmpl.get('roleArn')}, actions {params}, targets = the chosen instances, selectionMode ALL, "
                        f"tag {TAG_CHAOS_RUN}={ctx.run_id}{layout})",
                        f"fis:StartExperiment: warning to each target, interruption after "
                        f"{duration(ctx):g} s{scale}"],
            "rollbacks": ["fis:StopExperiment (on every exit path; no-op once completed)",
                          "fis:DeleteExperimentTemplate of the run-scoped copy"]}


def _account(tmpl: dict) -> str:
    for arn in (tmpl.get("arn"), tmpl.get("roleArn")):
        parts = (arn or "").split(":")
        if len(parts) > 4 and parts[4]:
            return parts[4]
    raise ExperimentFailed("cannot tell the account of the FIS template (no arn or roleArn)")


def inject(ctx, targets: list) -> dict:
    fis, tmpl = ctx.client("fis"), _template(ctx)
    region = ctx.client("ec2").meta.region_name
    arns = [f"arn:aws:ec2:{region}:{_account(tmpl)}:instance/{i}" for i in targets]
    target_names = sorted({name for a in ctx.data["actions"].values() for name in (a.get("targets") or {}).values()})
    groups = chunks(arns)
    actions, fis_targets = {}, {}
    for k, group in enumerate(groups, start=1):
        # One chunk keeps the template's own names; several get "-<k>" suffixes, one target + one action each.
        suffix = f"-{k}" if len(groups) > 1 else ""
        for name, action in ctx.data["actions"].items():
            dup = {key: v for key, v in action.items() if key in ("actionId", "description", "parameters", "targets")}
            dup["targets"] = {key: f"{t}{suffix}" for key, t in (action.get("targets") or {}).items()}
            actions[f"{name}{suffix}"] = dup
        for t in target_names:
            fis_targets[f"{t}{suffix}"] = {"resourceType": RESOURCE_TYPE, "resourceArns": group, "selectionMode": "ALL"}
    stop = [{k: v for k, v in s.items() if k in ("source", "value")} for s in tmpl.get("stopConditions") or []]
    request = {
        "clientToken": f"{ctx.run_id}-template",
        "description": f"spotkit chaos run {ctx.run_id} (from {tmpl.get('id')})"[:512],
        "roleArn": tmpl.get("roleArn") or ctx.outputs.chaos_fis_role_arn,
        "actions": actions,
        "targets": fis_targets,
        "stopConditions": stop or [{"source": "none"}],
        "tags": {TAG_CHAOS_RUN: ctx.run_id, "Name": f"spotkit-{ctx.run_id}"},
    }
    if tmpl.get("logConfiguration"):
        request["logConfiguration"] = tmpl["logConfiguration"]
    ctx.state.set_phase("fis-template-pending")
    delete_entry = ctx.state.add_undo(statelib.UNDO_DELETE_TEMPLATE, run_id=ctx.run_id, template_id=None)
    tid = fis.create_experiment_template(**request)["experimentTemplate"]["id"]
    ctx.state.update(delete_entry, template_id=tid)
    stop_entry = ctx.state.add_undo(statelib.UNDO_STOP_EXPERIMENT, run_id=ctx.run_id, template_id=tid,
                                    experiment_id=None)
    exp = fis.start_experiment(clientToken=ctx.run_id, experimentTemplateId=tid,
                               tags={TAG_CHAOS_RUN: ctx.run_id})["experiment"]
    ctx.state.update(stop_entry, experiment_id=exp["id"])
    ctx.state.set_phase("fis-experiment-started", fis_experiment_id=exp["id"], fis_template_id=tid)
    ctx.data.update(template_id=tid, experiment_id=exp["id"], targets=list(targets), warned=False, status=None,
                    run_actions=list(actions))
    ctx.journal.log(f"action: FIS experiment {exp['id']} started from run-scoped template {tid} "
                    f"({len(targets)} instance(s) in {len(groups)} FIS target(s))", "bold yellow")
    return {"experiment_template_id": tid, "experiment_id": exp["id"], "resource_arns": arns}


def observe(ctx) -> None:
    """GetExperiment: a ``warning`` event per target once the action runs; a stopped or failed
    experiment (a stop condition fired) fails the run."""
    exp = ctx.client("fis").get_experiment(id=ctx.data["experiment_id"])["experiment"]
    status = (exp.get("state") or {}).get("status")
    if status != ctx.data.get("status"):
        ctx.data["status"] = status
        ctx.journal.log(f"FIS experiment {exp['id']}: {status} ({(exp.get('state') or {}).get('reason', '')})")
    ours = [exp.get("actions", {}).get(n) or {} for n in ctx.data.get("run_actions") or ctx.data["actions"]]
    if not ctx.data["warned"] and any((a.get("state") or {}).get("status") in ("running", "completed") for a in ours):
        ctx.data["warned"] = True
        for i in ctx.data["targets"]:
            ctx.journal.event(f"instance:{i}", "warning",
                              f"Spot interruption warning sent by FIS; interruption in "
                              f"{expected_delay(ctx):g} s", "yellow")
    if status in ("stopped", "failed", "cancelled"):
        raise ExperimentFailed(f"FIS experiment {exp['id']} {status}: "
                               f"{(exp.get('state') or {}).get('reason') or 'no reason given'}")


def on_interrupted(ctx) -> None:
    return None


def _by_run_tag(items, run_id: str) -> list:
    return [i["id"] for i in items if (i.get("tags") or {}).get(TAG_CHAOS_RUN) == run_id]


def _paged(fis, operation: str, key: str, **kw) -> list:
    return [x for page in fis.get_paginator(operation).paginate(**kw) for x in page.get(key, [])]


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException"


def stop_experiment(entry: dict, client, **_) -> tuple:
    """Undo ``stop-fis-experiment``: StopExperiment unless it is already stopping or finished
    (:data:`STOPPED_OR_STOPPING`; also after a ConflictException when GetExperiment then says so).
    Idempotent; an
    experiment id not recorded yet is found by its run tag (ListExperiments)."""
    fis = client("fis")
    ids = [entry["experiment_id"]] if entry.get("experiment_id") else _by_run_tag(
        _paged(fis, "list_experiments", "experiments"), entry["run_id"])
    if not ids:
        return True, "no experiment was started"
    details = []
    for eid in ids:
        try:
            status = (fis.get_experiment(id=eid)["experiment"].get("state") or {}).get("status")
            if status in STOPPED_OR_STOPPING:
                details.append(f"experiment {eid} already {status}")
                continue
            fis.stop_experiment(id=eid)
            details.append(f"experiment {eid} stopped (was {status})")
        except ClientError as exc:
            if _not_found(exc):
                details.append(f"experiment {eid} gone")
                continue
            # A race: it finished or began stopping between GetExperiment and StopExperiment (FIS
            # may answer ConflictException). Done if GetExperiment now says so.
            try:
                now = (fis.get_experiment(id=eid)["experiment"].get("state") or {}).get("status")
            except ClientError:
                now = None
            if now in STOPPED_OR_STOPPING:
                details.append(f"experiment {eid} already {now}")
                continue
            return False, f"experiment {eid}: {exc}"
    return True, "; ".join(details)


def delete_template(entry: dict, client, **_) -> tuple:
    """Undo ``delete-fis-template``: DeleteExperimentTemplate of the run-scoped copy. Idempotent; a
    template id not recorded yet is found by its run tag (ListExperimentTemplates)."""
    fis = client("fis")
    ids = [entry["template_id"]] if entry.get("template_id") else _by_run_tag(
        _paged(fis, "list_experiment_templates", "experimentTemplates"), entry["run_id"])
    if not ids:
        return True, "no template was created"
    details = []
    for tid in ids:
        try:
            fis.delete_experiment_template(id=tid)
            details.append(f"template {tid} deleted")
        except ClientError as exc:
            if not _not_found(exc):
                return False, f"template {tid}: {exc}"
            details.append(f"template {tid} gone")
    return True, "; ".join(details)


UNDO = {statelib.UNDO_STOP_EXPERIMENT: stop_experiment, statelib.UNDO_DELETE_TEMPLATE: delete_template}
