"""AWS FIS data plane: experiment templates validated, experiments driven against EC2 (docs/emulator.md, "FIS").

moto 5.2.5 stores FIS templates and experiments only: an experiment's state advances when it is read
and nothing happens to any resource. This module makes FIS act, from the emulator's data-plane tick.

What AWS does (AWS FIS User Guide: "Actions reference" fis-actions-reference.html, "Targets"
targets.html, "Stop conditions" stop-conditions.html, "Experiments" experiments.html; AWS FIS API
Reference: CreateExperimentTemplate, CreateExperimentTemplateTargetInput,
CreateExperimentTemplateStopConditionInput, ExperimentState, ExperimentActionState; Amazon EC2 User
Guide: "Spot Instance interruption notices", "EC2 instance rebalance recommendations"; Amazon EC2 API
Reference: StateReason):

* A template needs a role; each action's ``actionId`` names an action with one target key and one
  resource type: ``aws:ec2:send-spot-instance-interruptions`` (key ``SpotInstances``, type
  ``aws:ec2:spot-instance``, parameter ``durationBeforeInterruption``, ISO 8601, 2 to 15 minutes) and
  ``aws:ec2:terminate-instances`` (key ``Instances``, type ``aws:ec2:instance``). Any other target key
  is refused: ``Unexpected target "Instances" found in action "<name>".`` (wording captured in
  hashicorp/terraform-provider-aws#26950). The emulator models only these two actions and refuses
  any other ``actionId`` with an explicit "not modelled by the spotkit emulator" ValidationException.
* A target names ``resourceArns`` (at most 5) *or* ``resourceTags`` -- at least one, never both --
  optional ``filters`` (``path`` + ``values``) and ``selectionMode`` ``ALL`` | ``COUNT(n)`` |
  ``PERCENT(n)`` (random choice for the last two).
* A stop condition's source is ``none`` or ``aws:cloudwatch:alarm`` with the alarm's ARN as value.
* An experiment is ``pending`` -> ``initiating`` -> ``running`` -> ``completed`` (or ``stopping`` ->
  ``stopped``, or ``failed``). FIS resolves the targets once, at the start; with no target found the
  experiment fails (``emptyTargetResolutionMode`` ``fail``, the default) or the action is skipped
  (``skip``). A stop condition alarm in ALARM stops the experiment.
* ``send-spot-instance-interruptions``: a rebalance recommendation (may come early), the "EC2 Spot
  Instance Interruption Warning" two minutes before the interruption, the interruption after
  ``durationBeforeInterruption`` (AWS's Spot workshop, awslabs/ec2-spot-workshops, content on FIS).
  An interrupted instance ends ``terminated`` with state reason ``Server.SpotInstanceTermination``.
* Template ids are ``EXT`` + 14 letters/digits, experiment ids ``EXP`` + 15 (captured answers).

Assumed, not verified (docs/emulator.md, "Assumed, not verified (FIS)"): StopExperiment **cancels the
interruptions not yet done** of a running ``send-spot-instance-interruptions`` action (instances already
interrupted stay gone). No AWS page says what happens to an instance whose interruption warning was
already sent when the experiment stops; the FIS User Guide ("Stop an experiment") says only that the
experiment stops and cannot be resumed. The emulator cancels; AWS may still interrupt.

What the emulator does: :func:`install` hooks moto's FIS responses (validation, experiment state as a
plain attribute, resolved targets, per-experiment reasons) and teaches moto's CloudFormation the
``AWS::FIS::ExperimentTemplate`` resource; :class:`FisEngine` (one per account/Region, its
:meth:`~FisEngine.tick` run by the server's data-plane loop) moves experiments and acts. Every
duration FIS waits is multiplied by the FIS time factor (``--fis-time-scale``; 0.025 makes PT2M 3 s).
"""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from moto.core.exceptions import JsonRESTError

log = logging.getLogger("spotkit.emulator.fis")

#: Serialises moto request threads (StartExperiment, StopExperiment) with the data-plane tick.
LOCK = threading.RLock()

SPOT_ACTION = "aws:ec2:send-spot-instance-interruptions"
TERMINATE_ACTION = "aws:ec2:terminate-instances"
#: Seconds between the interruption warning and the interruption (EC2 User Guide, interruption notices).
WARNING_LEAD_SECONDS = 120.0
MIN_INTERRUPTION_SECONDS, MAX_INTERRUPTION_SECONDS = 120.0, 900.0  # PT2M .. PT15M
MAX_RESOURCE_ARNS = 5  # CloudFormation ExperimentTemplateTarget → ResourceArns: "Maximum: 5"
STOP_SOURCES = ("none", "aws:cloudwatch:alarm")
SPOT_TERMINATION_REASON = ("Server.SpotInstanceTermination",
                           "Server.SpotInstanceTermination: Spot instance termination")  # message assumed
ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+$")
SELECTION = re.compile(r"^(ALL|COUNT\((\d+)\)|PERCENT\((\d+)\))$")
DURATION = re.compile(r"^PT(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")
#: AWS's id shapes: ``EXT`` + 14 and ``EXP`` + 15 letters and digits, as in captured CreateExperimentTemplate,
#: StartExperiment and StopExperiment answers (docs/emulator.md, "FIS"); moto makes 32 hex digits.
TEMPLATE_ID = ("EXT", 14)
EXPERIMENT_ID = ("EXP", 15)
_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class ActionSpec:
    """One modelled FIS action: its single target key, the resource type that key takes, the IAM
    action FIS performs with the experiment role on every target, and its parameters
    (name → required)."""

    target_key: str
    resource_type: str
    iam_action: str
    parameters: Dict[str, bool] = field(default_factory=dict)


ACTIONS: Dict[str, ActionSpec] = {
    SPOT_ACTION: ActionSpec("SpotInstances", "aws:ec2:spot-instance", "ec2:SendSpotInstanceInterruptions",
                            {"durationBeforeInterruption": True}),
    TERMINATE_ACTION: ActionSpec("Instances", "aws:ec2:instance", "ec2:TerminateInstances"),
}


class FisValidationException(JsonRESTError):
    """HTTP 400 ``ValidationException``, as FIS answers an invalid template."""

    code = 400

    def __init__(self, message: str):
        super().__init__("ValidationException", message)


def parse_duration(value: str) -> Optional[float]:
    """An ISO 8601 duration of the ``PT…`` form (``PT2M``, ``PT120S``, ``PT1H``) in seconds; None
    when ``value`` is not one."""
    m = DURATION.match(str(value or ""))
    if not m:
        return None
    hours, minutes, seconds = m.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


# ------------------------------------------------------------------------------------ validation
def validate_template(template: dict) -> None:
    """Refuse what FIS refuses in a CreateExperimentTemplate / UpdateExperimentTemplate request.

    ``template`` uses the API's keys (``roleArn``, ``actions``, ``targets``, ``stopConditions``).
    Rules and sources are in the module docstring and docs/emulator.md ("FIS"); every message other
    than the ``Unexpected target`` one is the emulator's own (AWS's wording not verified).

    Raises:
        FisValidationException: the first rule broken.
    """
    if not template.get("roleArn"):
        raise FisValidationException("roleArn is required")
    targets = template.get("targets") or {}
    actions = template.get("actions") or {}
    if not actions:
        raise FisValidationException("An experiment template must have at least one action")
    for name, target in targets.items():
        _validate_target(name, target or {})
    for name, action in actions.items():
        action = action or {}
        action_id = action.get("actionId")
        spec = ACTIONS.get(action_id)
        if spec is None:
            raise FisValidationException(
                f"Action {action_id!r} in action \"{name}\" is not modelled by the spotkit emulator (modelled: "
                f"{', '.join(sorted(ACTIONS))}); the emulator refuses it rather than accept a template it "
                "cannot run")
        for key in (action.get("targets") or {}):
            if key != spec.target_key:
                raise FisValidationException(f'Unexpected target "{key}" found in action "{name}".')
        ref = (action.get("targets") or {}).get(spec.target_key)
        if not ref:
            raise FisValidationException(f'Action "{name}" requires target "{spec.target_key}"')
        if ref not in targets:
            raise FisValidationException(f'Target "{ref}" referenced by action "{name}" is not defined')
        if targets[ref].get("resourceType") != spec.resource_type:
            raise FisValidationException(
                f'Target "{ref}" has resource type {targets[ref].get("resourceType")}; action "{name}" '
                f"({action_id}) takes {spec.resource_type}")
        params = action.get("parameters") or {}
        for key in params:
            if key not in spec.parameters:
                raise FisValidationException(f'Unexpected parameter "{key}" found in action "{name}".')
        for key, required in spec.parameters.items():
            if required and key not in params:
                raise FisValidationException(f'Action "{name}" requires parameter "{key}"')
        if "durationBeforeInterruption" in params:
            seconds = parse_duration(params["durationBeforeInterruption"])
            if seconds is None or not MIN_INTERRUPTION_SECONDS <= seconds <= MAX_INTERRUPTION_SECONDS:
                raise FisValidationException(
                    f"durationBeforeInterruption of action \"{name}\" must be an ISO 8601 duration from PT2M to "
                    f"PT15M, got {params['durationBeforeInterruption']!r}")
        for after in action.get("startAfter") or []:
            if after not in actions:
                raise FisValidationException(f'Action "{name}" starts after undefined action "{after}"')
    for condition in template.get("stopConditions") or []:
        source = (condition or {}).get("source")
        if source not in STOP_SOURCES:
            raise FisValidationException(f"Stop condition source must be one of {', '.join(STOP_SOURCES)}, "
                                         f"got {source!r}")
        value = condition.get("value")
        if source == "aws:cloudwatch:alarm" and not ALARM_ARN.match(str(value or "")):
            raise FisValidationException(f"Stop condition aws:cloudwatch:alarm needs a CloudWatch alarm ARN as "
                                         f"value, got {value!r}")
        if source == "none" and value:
            raise FisValidationException("Stop condition none takes no value")
    mode = ((template.get("experimentOptions") or {}).get("emptyTargetResolutionMode"))
    if mode not in (None, "fail", "skip"):
        raise FisValidationException(f"emptyTargetResolutionMode must be fail or skip, got {mode!r}")


def _validate_target(name: str, target: dict) -> None:
    if not target.get("resourceType"):
        raise FisValidationException(f'Target "{name}" requires resourceType')
    arns, tags = target.get("resourceArns"), target.get("resourceTags")
    if arns and tags:
        raise FisValidationException(f'Target "{name}": specify resourceArns or resourceTags, not both')
    if not arns and not tags:
        raise FisValidationException(f'Target "{name}" requires resourceArns or resourceTags')
    if arns and len(arns) > MAX_RESOURCE_ARNS:
        raise FisValidationException(f'Target "{name}": at most {MAX_RESOURCE_ARNS} resourceArns, got {len(arns)}')
    for arn in arns or []:
        if ":instance/i-" not in str(arn):
            raise FisValidationException(f'Target "{name}": {arn} is not an EC2 instance ARN')
    m = SELECTION.match(str(target.get("selectionMode") or ""))
    if not m:
        raise FisValidationException(f'Target "{name}": selectionMode must be ALL, COUNT(n) or PERCENT(n), got '
                                     f"{target.get('selectionMode')!r}")
    if (m.group(2) is not None and int(m.group(2)) < 1) or (
            m.group(3) is not None and not 1 <= int(m.group(3)) <= 100):
        raise FisValidationException(f'Target "{name}": selectionMode {target["selectionMode"]} is out of range')
    for flt in target.get("filters") or []:
        if not (flt or {}).get("path") or not flt.get("values"):
            raise FisValidationException(f'Target "{name}": every filter needs a path and values')


# ------------------------------------------------------------------------------- target resolution
def instance_arn(region: str, account: str, instance_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"


def _instance_view(inst) -> dict:
    """The DescribeInstances fields filters may name (``State.Name``, ``Placement.AvailabilityZone``…)."""
    return {
        "InstanceId": inst.id,
        "InstanceType": inst.instance_type,
        "ImageId": getattr(inst, "image_id", None),
        "State": {"Name": inst.state},
        "Placement": {"AvailabilityZone": getattr(getattr(inst, "placement", None), "zone", None)},
        "SubnetId": getattr(inst, "subnet_id", None),
        "VpcId": getattr(getattr(inst, "subnet", None), "vpc_id", None) if hasattr(inst, "subnet") else None,
        "InstanceLifecycle": getattr(inst, "lifecycle", None),
    }


def _path_values(view: Any, path: str) -> List[str]:
    node = view
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        else:
            return []
    if node is None:
        return []
    return [str(v) for v in node] if isinstance(node, list) else [str(node)]


def select(candidates: List[Any], mode: str, rng: random.Random) -> List[Any]:
    """Apply ``selectionMode``: ALL; COUNT(n) -- n at random (all when fewer); PERCENT(n) -- n % at
    random, rounded down (rounding assumed, not verified)."""
    m = SELECTION.match(mode or "ALL")
    if not m or m.group(1) == "ALL":
        return list(candidates)
    if m.group(2) is not None:
        count = min(int(m.group(2)), len(candidates))
    else:
        count = math.floor(len(candidates) * int(m.group(3)) / 100)
    return rng.sample(list(candidates), count)


# ------------------------------------------------------------------------------------ the engine
@dataclass
class _Victim:
    instance_id: str
    rebalance_at: float
    warning_at: float
    interrupt_at: float
    rebalanced: bool = False
    warned: bool = False
    interrupted: bool = False


@dataclass
class _Run:
    """The emulator's state of one experiment (monotonic seconds)."""

    since: float
    resolved: Dict[str, List[str]] = field(default_factory=dict)  # target name -> instance ids
    victims: Dict[str, List[_Victim]] = field(default_factory=dict)  # action name -> schedule


class FisEngine:
    """Moves FIS experiments and applies their actions; call :meth:`tick` from one thread.

    Args:
        fis, ec2, events, cloudwatch: moto backends of one account/Region.
        account_id, region: the emulator's account and Region.
        time_scale: the FIS time factor; every FIS wait (``durationBeforeInterruption``, the two-minute
            warning lead) is multiplied by it. 1.0 is AWS's clock.
        authorize: None, or ``authorize(role_arn, session, action, resource_arn, context) -> str | None``
            returning a denial message (the server wires :class:`spotkit.emulator.iam.Enforcer`).
        dwell_seconds: minimum time in ``pending`` and ``initiating`` so pollers see them.
        seed: random seed for COUNT/PERCENT selection (None: random).
    """

    def __init__(self, fis, ec2, events, cloudwatch, account_id: str, region: str, time_scale: float = 1.0,
                 authorize: Optional[Callable[..., Optional[str]]] = None, dwell_seconds: float = 0.0,
                 seed: Optional[int] = None):
        self.fis, self.ec2, self.events, self.cloudwatch = fis, ec2, events, cloudwatch
        self.account, self.region = account_id, region
        self.time_scale = float(time_scale)
        self.authorize = authorize
        self.dwell = dwell_seconds
        self.rng = random.Random(seed)
        self.runs: Dict[str, _Run] = {}

    # ------------------------------------------------------------------ state helpers
    @staticmethod
    def _set(exp, status: str, reason: str) -> None:
        exp._status = status
        exp.__dict__["_sk_reason"] = reason
        if status in ("completed", "stopped", "failed", "cancelled") and exp.end_time is None:
            exp.end_time = time.time()
        log.info("FIS experiment %s -> %s: %s", exp.id, status, reason)

    @staticmethod
    def _action(exp, name: str, status: str, reason: str) -> None:
        action = exp.actions[name]
        now = time.time()
        if status == "running" and "startTime" not in action:
            action["startTime"] = now
        if status in ("completed", "stopped", "failed", "cancelled", "skipped"):
            action.setdefault("endTime", now)
        action["state"] = {"status": status, "reason": reason}

    def tick(self, now: Optional[float] = None) -> None:
        """One round: advance every experiment that is not finished (see the module docstring)."""
        now = time.monotonic() if now is None else now
        for exp in list(self.fis.experiments.values()):
            with LOCK:
                try:
                    self._advance(exp, now)
                except Exception as exc:  # one broken experiment must not stop the others
                    log.exception("FIS experiment %s failed in the emulator", exp.id)
                    for name, action in exp.actions.items():
                        if (action.get("state") or {}).get("status") in ("pending", "running"):
                            self._action(exp, name, "failed", f"Emulator error: {exc}")
                    self._set(exp, "failed", f"Emulator error: {exc}")

    def _advance(self, exp, now: float) -> None:
        status = exp._status
        run = self.runs.get(exp.id)
        if status == "pending":
            if run is None:
                self.runs[exp.id] = _Run(since=now)
            elif now - run.since >= self.dwell:
                self._set(exp, "initiating", "Experiment is initiating")
                run.since = now
        elif status == "initiating":
            run = run or self.runs.setdefault(exp.id, _Run(since=now))
            if now - run.since >= self.dwell:
                self._initiate(exp, run, now)
        elif status == "running":
            self._run(exp, run, now)
        elif status == "stopping":
            self._stop(exp, "Experiment stopped")

    # ------------------------------------------------------------------ phases
    def _initiate(self, exp, run: _Run, now: float) -> None:
        if self._stop_condition(exp):
            return
        mode = (exp.experiment_options or {}).get("emptyTargetResolutionMode", "fail")
        for name, target in exp.targets.items():
            run.resolved[name] = [i.id for i in self.resolve(target)]
        exp.__dict__["_sk_resolved"] = [(exp.targets[n].get("resourceType", ""), n,
                                         instance_arn(self.region, self.account, i))
                                        for n, ids in run.resolved.items() for i in ids]
        for name, ids in run.resolved.items():
            if not ids and mode == "fail":
                self._set(exp, "failed", f"Target resolution returned empty set for target {name}")
                for action in exp.actions:
                    self._action(exp, action, "cancelled", "Experiment failed")
                return
        self._set(exp, "running", "Experiment is running")
        run.since = now
        self._run(exp, run, now)  # actions without startAfter start with the experiment

    def _run(self, exp, run: Optional[_Run], now: float) -> None:
        if run is None:  # the emulator restarted mid-experiment: nothing left to act on
            self._set(exp, "failed", "Experiment state lost by the emulator")
            return
        if self._stop_condition(exp):
            return
        finished = ("completed", "skipped", "failed", "cancelled", "stopped")
        for name, action in exp.actions.items():
            state = (action.get("state") or {}).get("status", "pending")
            if state in finished:
                continue
            if state == "pending":
                after = action.get("startAfter") or []
                if any((exp.actions[a].get("state") or {}).get("status") not in ("completed", "skipped")
                       for a in after):
                    continue
                if not self._start_action(exp, run, name, action, now):
                    return  # the experiment failed
                continue
            self._progress(exp, run, name, action, now)
        if all((a.get("state") or {}).get("status") in finished for a in exp.actions.values()):
            if any((a.get("state") or {}).get("status") == "failed" for a in exp.actions.values()):
                self._set(exp, "failed", "Experiment failed: an action failed")
            else:
                self._set(exp, "completed", "Experiment completed")

    def _start_action(self, exp, run: _Run, name: str, action: dict, now: float) -> bool:
        spec = ACTIONS[action["actionId"]]
        ids = run.resolved.get(action["targets"][spec.target_key], [])
        if not ids:
            self._action(exp, name, "skipped", "No targets found")
            return True
        if self.authorize is not None:
            for instance_id in ids:
                denial = self.authorize(exp.role_arn, exp.id, spec.iam_action,
                                        instance_arn(self.region, self.account, instance_id),
                                        self._tag_context(instance_id))
                if denial:
                    self._action(exp, name, "failed", denial)
                    for other, a in exp.actions.items():
                        if other != name and (a.get("state") or {}).get("status") in ("pending", "running"):
                            self._action(exp, other, "cancelled", "Experiment failed")
                    self._set(exp, "failed", f"Action {name} failed: {denial}")
                    return False
        self._action(exp, name, "running", "Action is running")
        if spec is ACTIONS[TERMINATE_ACTION]:
            live = [i for i in ids if self._alive(i)]
            if live:
                self.ec2.terminate_instances(live)
            log.info("FIS %s/%s: terminated %s", exp.id, name, live)
            self._action(exp, name, "completed", "Action completed")
            return True
        total = parse_duration(action["parameters"]["durationBeforeInterruption"]) * self.time_scale
        lead = WARNING_LEAD_SECONDS * self.time_scale
        run.victims[name] = [_Victim(i, now, now + max(0.0, total - lead), now + total) for i in ids]
        self._progress(exp, run, name, action, now)
        return True

    def _progress(self, exp, run: _Run, name: str, action: dict, now: float) -> None:
        victims = run.victims.get(name, [])
        for v in victims:
            if not v.rebalanced and now >= v.rebalance_at:
                v.rebalanced = True
                self._put_event("EC2 Instance Rebalance Recommendation", v.instance_id,
                                {"instance-id": v.instance_id},
                                instance_arn(self.region, self.account, v.instance_id))
            if not v.warned and now >= v.warning_at:
                v.warned = True
                self._put_event("EC2 Spot Instance Interruption Warning", v.instance_id,
                                {"instance-id": v.instance_id, "instance-action": "terminate"},
                                f"arn:aws:ec2:{self._zone(v.instance_id)}:instance/{v.instance_id}")
            if not v.interrupted and now >= v.interrupt_at:
                v.interrupted = True
                self.interrupt(v.instance_id)
        if victims and all(v.interrupted for v in victims):
            self._action(exp, name, "completed", "Action completed")

    def _stop(self, exp, reason: str) -> None:
        """Cancel what has not happened yet (interruptions pending); what happened stays.

        Assumed, not verified: that AWS, too, cancels an interruption whose warning was already sent
        (see the module docstring)."""
        run = self.runs.get(exp.id)
        for name, action in exp.actions.items():
            state = (action.get("state") or {}).get("status", "pending")
            if state == "pending":
                self._action(exp, name, "cancelled", reason)
            elif state == "running":
                pending = [v.instance_id for v in (run.victims.get(name, []) if run else []) if not v.interrupted]
                if run:
                    run.victims[name] = [v for v in run.victims.get(name, []) if v.interrupted]
                if pending:
                    log.info("FIS %s/%s: interruptions of %s cancelled", exp.id, name, pending)
                self._action(exp, name, "stopped", reason)
        self._set(exp, "stopped", reason)

    def _stop_condition(self, exp) -> bool:
        """Stop ``exp`` (True) when one of its stop-condition alarms is in ALARM."""
        for condition in exp.stop_conditions or []:
            if condition.get("source") != "aws:cloudwatch:alarm":
                continue
            alarm_name = str(condition.get("value", "")).split(":alarm:", 1)[-1]
            alarm = self.cloudwatch.alarms.get(alarm_name) if self.cloudwatch is not None else None
            if alarm is not None and alarm.state_value == "ALARM":
                self._stop(exp, f"Experiment stopped by stop condition {condition['value']}")
                return True
        return False

    # ------------------------------------------------------------------ EC2 side
    def resolve(self, target: dict) -> List[Any]:
        """The instances a target names: pending/running ones matching ``resourceArns`` or every tag of
        ``resourceTags``, then ``filters`` (values of one filter OR-ed, filters AND-ed), then, for
        ``aws:ec2:spot-instance``, Spot instances only, then ``selectionMode``."""
        instances = [i for i in self.ec2.all_instances() if i.state in ("pending", "running")]
        if target.get("resourceArns"):
            wanted = {str(a).rsplit("/", 1)[-1] for a in target["resourceArns"]}
            instances = [i for i in instances if i.id in wanted]
        tags = target.get("resourceTags") or {}
        if tags:
            instances = [i for i in instances if all(self._tags(i.id).get(k) == v for k, v in tags.items())]
        for flt in target.get("filters") or []:
            values = {str(v) for v in flt.get("values") or []}
            instances = [i for i in instances if values & set(_path_values(_instance_view(i), flt["path"]))]
        if target.get("resourceType") == "aws:ec2:spot-instance":
            instances = [i for i in instances if getattr(i, "lifecycle", None) == "spot"]
        return select(instances, target.get("selectionMode") or "ALL", self.rng)

    def _tags(self, instance_id: str) -> Dict[str, str]:
        return {t["key"]: t["value"] for t in self.ec2.describe_tags(filters={"resource-id": [instance_id]})}

    def _tag_context(self, instance_id: str) -> Dict[str, str]:
        """IAM request context of an action on the instance: ``aws:ResourceTag/<key>`` and
        ``ec2:ResourceTag/<key>`` for each of its tags (IAM User Guide, global condition keys; Service
        Authorization Reference, Amazon EC2)."""
        context: Dict[str, str] = {}
        for key, value in self._tags(instance_id).items():
            context[f"aws:ResourceTag/{key}"] = value
            context[f"ec2:ResourceTag/{key}"] = value
        return context

    def _alive(self, instance_id: str) -> bool:
        try:
            return self.ec2.get_instance(instance_id).state in ("pending", "running")
        except Exception:
            return False

    def _zone(self, instance_id: str) -> str:
        try:
            placement = self.ec2.get_instance(instance_id).placement
            return getattr(placement, "zone", None) or f"{self.region}a"
        except Exception:
            return f"{self.region}a"

    def interrupt(self, instance_id: str) -> None:
        """Interrupt a Spot instance: terminated, with state reason ``Server.SpotInstanceTermination``
        (EC2 API Reference, StateReason; the message text is assumed)."""
        if not self._alive(instance_id):
            return
        from moto.ec2.models.instances import StateReason

        self.ec2.terminate_instances([instance_id])
        inst = self.ec2.get_instance(instance_id)
        code, message = SPOT_TERMINATION_REASON
        inst.state_reason = StateReason(message, code)
        inst._reason = "Server.SpotInstanceTermination"
        log.info("FIS: Spot instance %s interrupted", instance_id)

    def _put_event(self, detail_type: str, instance_id: str, detail: dict, resource: str) -> None:
        """An EC2 event on the default bus, shaped like the captures in tests/fidelity/aws/
        (source ``aws.ec2``, one instance ARN in ``resources``)."""
        self.events.put_events([{
            "Source": "aws.ec2",
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "Resources": [resource],
        }])
        log.info("FIS: %s for %s", detail_type, instance_id)


# ------------------------------------------------------------------------------------ moto hooks
_installed = False


def new_id(kind: tuple) -> str:
    """An AWS-shaped FIS id: ``kind`` is :data:`TEMPLATE_ID` or :data:`EXPERIMENT_ID`."""
    prefix, length = kind
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


class _IdKind(threading.local):
    kind: Optional[tuple] = None


_ID_KIND = _IdKind()


class _Uuid:
    """What moto's FIS models get from ``mock_random.uuid4()``: ``.hex`` (moto's template and experiment
    id) is an AWS-shaped id of the kind the calling backend method set; ``str()`` (client tokens) and every
    other attribute are the real uuid's."""

    def __init__(self, real):
        self._real = real

    def __str__(self) -> str:
        return str(self._real)

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    @property
    def hex(self) -> str:
        return new_id(_ID_KIND.kind) if _ID_KIND.kind else self._real.hex


class _FisRandom:
    """Stands in for ``mock_random`` in ``moto.fis.models`` only."""

    def __init__(self, real):
        self._real = real

    def uuid4(self):
        return _Uuid(self._real.uuid4())

    def __getattr__(self, name: str):
        return getattr(self._real, name)


def _with_id_kind(method: Callable, kind: tuple) -> Callable:
    def wrapper(*args, **kwargs):
        with LOCK:
            previous, _ID_KIND.kind = _ID_KIND.kind, kind
            try:
                return method(*args, **kwargs)
            finally:
                _ID_KIND.kind = previous

    wrapper.__wrapped__ = method
    return wrapper


def _template_from_params(get: Callable[[str], Any]) -> dict:
    return {k: get(k) for k in ("roleArn", "actions", "targets", "stopConditions", "experimentOptions")}


def install() -> None:
    """Hook moto's FIS (idempotent): AWS-shaped ids (``EXT…``, ``EXP…``), validation of
    Create/UpdateExperimentTemplate, experiment state as a plain attribute moved only by
    :class:`FisEngine`, the emulator's reasons and resolved targets in every answer, StopExperiment
    under :data:`LOCK`, and the CloudFormation resource ``AWS::FIS::ExperimentTemplate``
    (:class:`CfnExperimentTemplate`)."""
    global _installed
    with LOCK:
        if _installed:
            return
        _installed = True
    from moto.fis import models as fis_models
    from moto.fis import responses as fis_responses

    original_create = fis_responses.FISResponse.create_experiment_template

    def create_experiment_template(self) -> str:
        validate_template(_template_from_params(self._get_param))
        return original_create(self)

    fis_responses.FISResponse.create_experiment_template = create_experiment_template

    original_update = fis_responses.FISResponse.update_experiment_template

    def update_experiment_template(self) -> str:
        current = self.fis_backend.experiment_templates.get(self._get_param("id"))
        if current is not None:
            merged = {"roleArn": current.role_arn, "actions": current.actions, "targets": current.targets,
                      "stopConditions": current.stop_conditions, "experimentOptions": current.experiment_options}
            merged.update({k: v for k, v in _template_from_params(self._get_param).items() if v is not None})
            validate_template(merged)
        return original_update(self)

    fis_responses.FISResponse.update_experiment_template = update_experiment_template

    exp_cls = fis_models.Experiment
    exp_cls.status = property(lambda self: self.__dict__.get("_status"),
                              lambda self, value: self.__dict__.__setitem__("_status", value))
    exp_cls.advance = lambda self: None
    exp_cls._sync_state = lambda self: self._status or "pending"

    def _state(self) -> dict:
        status = self._status or "pending"
        return {"status": status, "reason": self.__dict__.get("_sk_reason") or self.STATUS_REASONS.get(status, status)}

    original_to_dict, original_summary = exp_cls.to_dict, exp_cls.to_summary_dict

    def to_dict(self, tags=None):
        with LOCK:
            out = original_to_dict(self, tags)
            out["state"] = _state(self)
            out["actions"] = copy.deepcopy(out.get("actions") or {})
            return out

    def to_summary_dict(self, tags=None):
        with LOCK:
            out = original_summary(self, tags)
            out["state"] = _state(self)
            return out

    exp_cls.to_dict, exp_cls.to_summary_dict = to_dict, to_summary_dict

    original_resolved = exp_cls.resolved_targets

    def resolved_targets(self):
        resolved = self.__dict__.get("_sk_resolved")
        if resolved is None:
            return original_resolved(self)
        return [fis_models.ResolvedTarget(resource_type=t, target_name=n, resource_arn=a) for t, n, a in resolved]

    exp_cls.resolved_targets = resolved_targets

    original_stop = fis_models.FISBackend.stop_experiment

    def stop_experiment(self, id: str):  # noqa: A002 -- moto's parameter name
        with LOCK:
            exp = self.experiments.get(id)
            if exp is not None and exp._status not in exp_cls.TERMINAL_STATUSES:
                exp.__dict__["_sk_reason"] = "Experiment is stopping"
            return original_stop(self, id)

    fis_models.FISBackend.stop_experiment = stop_experiment

    original_start = fis_models.FISBackend.start_experiment

    def start_experiment(self, *args, **kwargs):
        with LOCK:
            out = original_start(self, *args, **kwargs)
            exp = self.experiments.get(out["id"])
            if exp is not None:
                for action in exp.actions.values():
                    action["state"] = {"status": "pending", "reason": "Initial state"}
                    action.pop("startTime", None)
            return out

    fis_models.FISBackend.start_experiment = _with_id_kind(start_experiment, EXPERIMENT_ID)
    fis_models.FISBackend.create_experiment_template = _with_id_kind(
        fis_models.FISBackend.create_experiment_template, TEMPLATE_ID)
    if not isinstance(fis_models.mock_random, _FisRandom):
        fis_models.mock_random = _FisRandom(fis_models.mock_random)
    _install_cloudformation()


# ------------------------------------------------------------------------------------ CloudFormation
def _lower_first(key: str) -> str:
    return key[:1].lower() + key[1:]


def cfn_to_api(props: dict) -> dict:
    """``AWS::FIS::ExperimentTemplate`` properties (CloudFormation Template Reference) → the
    CreateExperimentTemplate request's keys. Names the user chooses (target and action names, tag keys,
    parameter names) are kept as written."""

    def target(t: dict) -> dict:
        out = {_lower_first(k): v for k, v in t.items() if k not in ("Filters",)}
        if "Filters" in t:
            out["filters"] = [{"path": f.get("Path"), "values": f.get("Values")} for f in t["Filters"] or []]
        return out

    def action(a: dict) -> dict:
        return {_lower_first(k): v for k, v in a.items()}

    options = props.get("ExperimentOptions")
    return {
        "description": props.get("Description", ""),
        "roleArn": props.get("RoleArn"),
        "targets": {n: target(t or {}) for n, t in (props.get("Targets") or {}).items()},
        "actions": {n: action(a or {}) for n, a in (props.get("Actions") or {}).items()},
        "stopConditions": [{_lower_first(k): v for k, v in (c or {}).items()}
                           for c in props.get("StopConditions") or []],
        "experimentOptions": {_lower_first(k): v for k, v in options.items()} if options else None,
        "logConfiguration": props.get("LogConfiguration"),
        "tags": props.get("Tags") or None,
    }


def _backend_kwargs(request: dict) -> dict:
    """A CreateExperimentTemplate request's keys → moto's ``FISBackend`` keyword arguments."""
    names = {"description": "description", "roleArn": "role_arn", "targets": "targets", "actions": "actions",
             "stopConditions": "stop_conditions", "experimentOptions": "experiment_options",
             "logConfiguration": "log_configuration", "tags": "tags"}
    return {names[k]: v for k, v in request.items() if k in names}


def _install_cloudformation() -> None:
    """Register :class:`CfnExperimentTemplate` with moto's CloudFormation (its model list is cached
    on first use, so the caches are cleared)."""
    from moto.cloudformation import parsing

    globals()["CfnExperimentTemplate"] = _cfn_class()
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def _cfn_class():
    from moto.core.common_models import CloudFormationModel
    from moto.fis.models import fis_backends

    class CfnExperimentTemplate(CloudFormationModel):
        """``AWS::FIS::ExperimentTemplate`` in moto's CloudFormation (CloudFormation Template Reference,
        aws-resource-fis-experimenttemplate): created, updated and deleted in the FIS backend after
        :func:`validate_template`. ``Ref`` returns the template id; ``Fn::GetAtt`` supports ``Id``."""

        def __init__(self, template: dict, account_id: str, region_name: str):
            self.template, self.account_id, self.region_name = template, account_id, region_name

        @property
        def physical_resource_id(self) -> str:
            return self.template["id"]

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::FIS::ExperimentTemplate"

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr in ("Id",)

        def get_cfn_attribute(self, attribute_name: str) -> Any:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            if attribute_name == "Id":
                return self.template["id"]
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name,
                                            **kwargs):
            request = cfn_to_api(cloudformation_json.get("Properties") or {})
            validate_template(request)
            backend = fis_backends[account_id][region_name]
            template = backend.create_experiment_template(client_token=None, **_backend_kwargs(request))
            return cls(template, account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json,
                                            account_id, region_name):
            request = cfn_to_api(cloudformation_json.get("Properties") or {})
            validate_template(request)
            kwargs = _backend_kwargs(request)
            kwargs.pop("tags", None)
            backend = fis_backends[account_id][region_name]
            template = backend.update_experiment_template(id=original_resource.template["id"], **kwargs)
            return cls(template, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
            backend = fis_backends[account_id][region_name]
            if resource_name in backend.experiment_templates:
                backend.delete_experiment_template(resource_name)

        def delete(self, account_id: str, region_name: str) -> None:
            backend = fis_backends[account_id][region_name]
            if self.template["id"] in backend.experiment_templates:
                backend.delete_experiment_template(self.template["id"])

    return CfnExperimentTemplate
