"""Compute capacity for managed compute environments, following demand.

What AWS does (AWS Batch User Guide, "Compute environments" → "Managed compute environments",
"Allocation strategies", "Amazon EC2 spot fleet role", "Using service-linked roles for AWS Batch";
Amazon EC2 User Guide, "Spot Fleet" → "Spot Fleet request types" and "Modify a Spot Fleet request";
Amazon EC2 Auto Scaling User Guide, "Health checks for instances in an Auto Scaling group" and
"Tag Auto Scaling groups and instances"):

* A MANAGED SPOT compute environment with allocation strategy BEST_FIT (or none) is served by a
  Spot Fleet request of type ``maintain``, launched with the CE's Spot Fleet role
  (``spotIamFleetRole``). Every other managed EC2 or SPOT CE (BEST_FIT_PROGRESSIVE,
  SPOT_CAPACITY_OPTIMIZED, SPOT_PRICE_CAPACITY_OPTIMIZED, and on-demand EC2 CEs of any strategy) is
  served by an EC2 Auto Scaling group that Batch creates with its own launch template
  (``Batch-lt-<uuid>``) in a MixedInstancesPolicy; see docs/emulator.md, "Auto Scaling groups", for
  the sources and what is assumed.
* Capacity follows demand between ``minvCpus`` and ``maxvCpus``; the fleet's target capacity is
  in vCPUs (each launch specification's WeightedCapacity is its instance type's vCPU count); the
  group's desired capacity is in instances (``ceil(vCPUs wanted / vCPUs per instance)``).
* A DISABLED compute environment keeps its instances while jobs run on them: "Jobs in a STARTING or
  RUNNING state continue to progress normally. Managed compute environments in the DISABLED state
  don't scale out." and idle instances scale down to ``minvCpus`` (AWS Batch API Reference,
  "ComputeEnvironmentDetail" → state, and "UpdateComputeEnvironment" → state).
* A ``maintain`` fleet replaces instances that stop; lowering its target capacity terminates
  instances, which AWS Spot marks with an interruption notice. An Auto Scaling group replaces an
  instance that stopped running (EC2 health check) to keep its desired capacity; Batch scales in
  only idle instances (here: TerminateInstanceInAutoScalingGroup with a decrement).
* Instances carry the CE's ``computeResources.tags`` and ``AWSBatchServiceTag`` = ``batch`` (the same
  value for every CE: it marks Batch's capacity, it does not name the CE); Spot Fleet instances also
  carry ``aws:ec2spot:fleet-request-id``, Auto Scaling instances ``aws:autoscaling:groupName``. Spot
  instances of either backend report ``InstanceLifecycle`` ``spot``. Each instance joins the CE's ECS
  cluster as a container instance (``ec2InstanceId``).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from base64 import b64encode
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set

from moto.core.types import Base64EncodedString
from moto.ec2.models.instance_types import INSTANCE_TYPES

log = logging.getLogger("spotkit.emulator.capacity")

DEFAULT_IMAGE = "ami-12c6146b"
#: What "optimal" (and family names) resolve to in the emulator.
OPTIMAL_TYPE = "m5.large"
#: The tag Batch puts on what it launches for a managed CE. Its value is the constant ``batch``, not
#: the CE's name (public scripts and a CloudTrail checker match ``AWSBatchServiceTag`` = ``batch``;
#: docs/emulator.md, "Auto Scaling groups"), so it cannot tell two CEs apart.
BATCH_SERVICE_TAG, BATCH_SERVICE_TAG_VALUE = "AWSBatchServiceTag", "batch"
FLEET_TAG = "aws:ec2spot:fleet-request-id"
ASG_TAG = "aws:autoscaling:groupName"  # added by Auto Scaling itself (moto: ASG_NAME_TAG)
#: The Batch service-linked role; with it Batch may only touch groups named ``AWSBatch*``
#: (BatchServiceRolePolicy, AWSBatchPolicyStatement10).
#: Matched on the path: moto names the role ``AWSServiceRoleForbatch``, AWS ``AWSServiceRoleForBatch``.
SERVICE_LINKED_ROLE_PATH = ":role/aws-service-role/batch.amazonaws.com/"
#: Allocation strategy → the MixedInstancesPolicy's Spot allocation strategy (assumed, not verified).
SPOT_ALLOCATION = {"SPOT_CAPACITY_OPTIMIZED": "capacity-optimized",
                   "SPOT_PRICE_CAPACITY_OPTIMIZED": "price-capacity-optimized"}


@dataclass
class Host:
    """One instance that can run jobs.

    Attributes:
        vcpus / memory_mib: the instance type's capacity (vCPUs, MiB).
        used_vcpus / used_memory_mib: what placed jobs hold.
        ready_at: monotonic seconds when the instance has booted and joined ECS.
    """

    instance_id: str
    ce_arn: str
    instance_type: str
    vcpus: float
    memory_mib: int
    container_instance_arn: str
    ready_at: float
    fleet_id: Optional[str] = None
    group_name: Optional[str] = None  # the Auto Scaling group, for ASG-backed CEs
    used_vcpus: float = 0.0
    used_memory_mib: int = 0
    jobs: Set[str] = field(default_factory=set)
    idle_since: float = field(default_factory=time.monotonic)
    instance: Any = field(default=None, repr=False, compare=False)  # moto's Instance (state read directly)

    def fits(self, vcpus: float, memory_mib: int) -> bool:
        return (self.vcpus - self.used_vcpus >= vcpus - 1e-9
                and self.memory_mib - self.used_memory_mib >= memory_mib)


def resolve_instance_type(name: str) -> str:
    """``optimal`` or a family name (``m5``) → a concrete type the emulator knows."""
    if name in INSTANCE_TYPES:
        return name
    if name != "optimal":
        for candidate in (f"{name}.large", f"{name}.xlarge"):
            if candidate in INSTANCE_TYPES:
                return candidate
    return OPTIMAL_TYPE


def type_capacity(instance_type: str) -> tuple:
    info = INSTANCE_TYPES[instance_type]
    return float(info["VCpuInfo"]["DefaultVCpus"]), int(info["MemoryInfo"]["SizeInMiB"])


class Capacity:
    """Keeps every managed CE's instances in line with demand; reports hosts that vanish.

    Args:
        batch / ec2 / ecs: moto's backends for one account and region.
        autoscaling: moto's AutoScalingBackend for the same account and region (default: looked up
            from ``moto.autoscaling.models.autoscaling_backends`` with the EC2 backend's account/region).
        boot_seconds: how long a new instance takes before jobs can be placed on it.
        idle_seconds: how long a host must hold no job before scale-in may remove it.
    """

    def __init__(self, batch, ec2, ecs, boot_seconds: float = 1.0, idle_seconds: float = 30.0,
                 autoscaling=None):
        self.batch, self.ec2, self.ecs = batch, ec2, ecs
        if autoscaling is None:
            from moto.autoscaling.models import autoscaling_backends

            autoscaling = autoscaling_backends[ec2.account_id][ec2.region_name]
        self.autoscaling = autoscaling
        self.boot_seconds = boot_seconds
        self.idle_seconds = idle_seconds
        self.hosts: Dict[str, Host] = {}
        self.fleets: Dict[str, str] = {}  # CE ARN -> Spot Fleet request id
        self.groups: Dict[str, str] = {}  # CE ARN -> Auto Scaling group name
        self.templates: Dict[str, str] = {}  # CE ARN -> name of the launch template Batch made for it
        self._refused: Set[str] = set()  # CE ARNs whose group could not be created (logged once)

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def managed(ce) -> bool:
        cr = ce.compute_resources or {}
        return ce.env_type == "MANAGED" and cr.get("type") in ("SPOT", "EC2")

    @staticmethod
    def uses_spot_fleet(ce) -> bool:
        cr = ce.compute_resources or {}
        return cr.get("type") == "SPOT" and cr.get("allocationStrategy") in (None, "", "BEST_FIT")

    @classmethod
    def backend_of(cls, ce) -> Optional[str]:
        """What serves a compute environment's capacity.

        Returns:
            ``"spot-fleet"`` for a MANAGED SPOT CE with allocation strategy BEST_FIT (or none),
            ``"auto-scaling-group"`` for every other MANAGED EC2 or SPOT CE, ``None`` for UNMANAGED
            and Fargate CEs (the emulator launches nothing for them). ``"instances"`` (instances
            launched one by one) is no longer produced: on AWS, on-demand CEs are ASG-backed too
            (docs/emulator.md, "Auto Scaling groups").
        """
        if not cls.managed(ce):
            return None
        return "spot-fleet" if cls.uses_spot_fleet(ce) else "auto-scaling-group"

    def asg_name_of(self, ce_arn: str) -> Optional[str]:
        """The name of the Auto Scaling group serving ``ce_arn`` (``AWSBatch-<ce>-asg-<uuid>`` with the
        Batch service-linked role, ``<ce>-asg-<uuid>`` with another service role), or ``None`` when the
        CE has none (yet: it is created on the first tick after the CE, even with no demand)."""
        return self.groups.get(ce_arn)

    def _instance_type(self, ce) -> str:
        types = (ce.compute_resources or {}).get("instanceTypes") or ["optimal"]
        return resolve_instance_type(types[0])

    def _tags(self, ce) -> dict:
        tags = dict((ce.compute_resources or {}).get("tags") or {})
        tags[BATCH_SERVICE_TAG] = BATCH_SERVICE_TAG_VALUE
        return tags

    def hosts_of(self, ce_arn: str) -> List[Host]:
        return [h for h in self.hosts.values() if h.ce_arn == ce_arn]

    def _instance_alive(self, instance_id: str) -> bool:
        try:
            inst = self.ec2.get_instance(instance_id)  # O(instances): only when the Host has no instance
        except Exception:  # moto raises InvalidInstanceID.NotFound
            return False
        return inst.state in ("pending", "running")

    @staticmethod
    def _running(instance) -> bool:
        return instance.state in ("pending", "running")

    def _host_alive(self, host: Host) -> bool:
        if host.instance is not None:
            return self._running(host.instance)
        return self._instance_alive(host.instance_id)

    def _register(self, ce, instance, fleet_id: Optional[str], group_name: Optional[str] = None) -> None:
        ci = self.ecs.register_container_instance(ce.ecs_name, instance.id)
        # ECS container instance ids are 32 hex digits (the ARNs in every capture in tests/fidelity/aws/);
        # moto makes a dashed UUID: re-key the instance under an AWS-shaped id
        instances = self.ecs.container_instances[ce.ecs_name.split("/")[-1]]
        instances.pop(ci.container_instance_arn.split("/")[-1], None)
        ci.id = uuid.uuid4().hex  # the ARN is derived from it
        instances[ci.container_instance_arn.split("/")[-1]] = ci
        vcpus, memory = type_capacity(instance.instance_type)
        self.hosts[instance.id] = Host(
            instance_id=instance.id, ce_arn=ce.arn, instance_type=instance.instance_type,
            vcpus=vcpus, memory_mib=memory, container_instance_arn=ci.container_instance_arn,
            ready_at=time.monotonic() + self.boot_seconds, fleet_id=fleet_id, group_name=group_name,
            instance=instance)
        if instance not in ce.instances:
            ce.instances.append(instance)
        log.info("instance %s (%s) joined %s", instance.id, instance.instance_type, ce.name)

    def _forget(self, host: Host) -> None:
        self.hosts.pop(host.instance_id, None)
        ce = self.batch.get_compute_environment(host.ce_arn)
        if ce is not None:
            ce.instances = [i for i in ce.instances if i.id != host.instance_id]
            try:
                self.ecs.deregister_container_instance(ce.ecs_name, host.container_instance_arn, True)
            except Exception:  # cluster already gone
                pass

    # ------------------------------------------------------------------ fleets
    def _ensure_fleet(self, ce):
        fid = self.fleets.get(ce.arn)
        if fid and fid in self.ec2.spot_fleet_requests:
            return self.ec2.spot_fleet_requests[fid]
        cr = ce.compute_resources or {}
        itype = self._instance_type(ce)
        vcpus, _ = type_capacity(itype)
        specs = []
        for subnet in cr.get("subnets") or [None]:
            spec = {
                "ImageId": cr.get("imageId") or DEFAULT_IMAGE,
                "InstanceType": itype,
                "SecurityGroups": [{"GroupId": g} for g in cr.get("securityGroupIds") or []],
                "WeightedCapacity": vcpus,
                "TagSpecifications": [{"ResourceType": "instance",
                                       "Tags": [{"Key": k, "Value": v} for k, v in self._tags(ce).items()]}],
            }
            if subnet:
                spec["SubnetId"] = subnet
            if cr.get("instanceRole"):
                spec["IamInstanceProfile"] = {"Arn": cr["instanceRole"]}
            specs.append(spec)
        fleet = self.ec2.request_spot_fleet(
            spot_price=None, target_capacity=0, iam_fleet_role=cr.get("spotIamFleetRole", ""),
            allocation_strategy="lowestPrice", launch_specs=specs,
            tag_specifications=[{"ResourceType": "spot-fleet-request",
                                 "Tags": [{"Key": BATCH_SERVICE_TAG, "Value": BATCH_SERVICE_TAG_VALUE}]}])
        fleet.__dict__["fleet_type"] = "maintain"
        self.fleets[ce.arn] = fleet.id
        log.info("spot fleet %s (maintain, role %s) created for %s", fleet.id, fleet.iam_fleet_role, ce.name)
        return fleet

    def _maintain_fleet(self, ce, fleet) -> None:
        """Drop stopped instances, relaunch up to target capacity, tag and register new ones."""
        weights = {s.instance_type: s.weighted_capacity for s in fleet.launch_specs}
        fleet.spot_requests = [r for r in fleet.spot_requests if r.instance.state in ("pending", "running")]
        fulfilled = sum(weights.get(r.instance.instance_type, 1) for r in fleet.spot_requests)
        fleet.fulfilled_capacity = float(fulfilled)
        if fulfilled > fleet.target_capacity:
            fleet.terminate_instances()
        elif fulfilled < fleet.target_capacity and fleet.state == "active":
            fleet.create_spot_requests(fleet.target_capacity - fulfilled)
        for req in fleet.spot_requests:
            inst = req.instance
            if inst.id not in self.hosts and inst.state in ("pending", "running"):
                self.ec2.create_tags([inst.id], {FLEET_TAG: fleet.id})
                self._register(ce, inst, fleet.id)

    def _set_fleet_target(self, fleet, target: float) -> None:
        if int(target) != fleet.target_capacity:
            log.info("spot fleet %s target capacity %s -> %s vCPUs", fleet.id, fleet.target_capacity, int(target))
            fleet.target_capacity = int(target)

    # ------------------------------------------------------ Auto Scaling groups
    @staticmethod
    def _version3_uuid() -> str:
        # the ids in captured Batch names (ECS clusters, ASGs, launch templates) are version-3 shaped
        return str(uuid.uuid3(uuid.NAMESPACE_OID, uuid.uuid4().hex))

    def _group_name(self, ce) -> str:
        role = ce.service_role or ""
        prefix = "AWSBatch-" if (not role or SERVICE_LINKED_ROLE_PATH in role) else ""
        return f"{prefix}{ce.name}-asg-{self._version3_uuid()}"

    @staticmethod
    def _user_data(ce) -> Base64EncodedString:
        cluster = ce.ecs_name.split("/")[-1]
        script = ("Content-Type: multipart/mixed; boundary=\"==BOUNDARY==\"\nMIME-Version: 1.0\n\n"
                  "--==BOUNDARY==\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n"
                  f"#!/bin/bash\necho ECS_CLUSTER={cluster}>>/etc/ecs/ecs.config\n--==BOUNDARY==--\n")
        return Base64EncodedString(b64encode(script.encode()).decode())

    def _create_launch_template(self, ce, itype: str) -> str:
        """The launch template Batch makes for a CE's group: ``Batch-lt-<uuid>``, tagged
        ``AWSBatchServiceTag`` = ``batch``; image, type, security groups, instance profile, key pair of the CE and
        user data joining the CE's ECS cluster."""
        cr = ce.compute_resources or {}
        data: Dict[str, Any] = {"ImageId": cr.get("imageId") or DEFAULT_IMAGE, "InstanceType": itype,
                                "UserData": self._user_data(ce)}
        if cr.get("securityGroupIds"):
            data["SecurityGroupIds"] = list(cr["securityGroupIds"])
        role = cr.get("instanceRole")
        if role:
            data["IamInstanceProfile"] = {"Arn": role} if role.startswith("arn:") else {"Name": role}
        if cr.get("ec2KeyPair"):
            data["KeyName"] = cr["ec2KeyPair"]
        name = f"Batch-lt-{self._version3_uuid()}"
        self.ec2.create_launch_template(name, "", data,
                                        {"launch-template": {BATCH_SERVICE_TAG: BATCH_SERVICE_TAG_VALUE}})
        return name

    def _ensure_group(self, ce, itype: str, per: float):
        """The CE's Auto Scaling group, created (with its launch template) on first use.

        Returns ``None`` when Auto Scaling refuses the group (e.g. a subnet moto does not know); that is
        logged once per CE and retried every tick.
        """
        name = self.groups.get(ce.arn)
        group = self.autoscaling.autoscaling_groups.get(name) if name else None
        if group is not None:
            return group
        if name:  # someone deleted Batch's group (AWS: the CE may go INVALID); the emulator recreates it
            log.warning("auto scaling group %s of %s is gone; creating a new one", name, ce.name)
        cr = ce.compute_resources or {}
        spot = cr.get("type") == "SPOT"
        subnets = list(cr.get("subnets") or [])
        try:
            lt_name = self.templates.get(ce.arn)
            if lt_name is None or lt_name not in self.ec2.launch_template_name_to_ids:
                lt_name = self.templates[ce.arn] = self._create_launch_template(ce, itype)
            types = [resolve_instance_type(t) for t in cr.get("instanceTypes") or ["optimal"]]
            overrides = [{"InstanceType": t} for t in dict.fromkeys(types)]
            distribution = {"OnDemandAllocationStrategy": "lowest-price", "OnDemandBaseCapacity": 0,
                            "OnDemandPercentageAboveBaseCapacity": 0 if spot else 100}
            if spot:
                distribution["SpotAllocationStrategy"] = SPOT_ALLOCATION.get(cr.get("allocationStrategy"),
                                                                             "lowest-price")
            name = self._group_name(ce)
            tags = [{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name,
                     "ResourceType": "auto-scaling-group"} for k, v in self._tags(ce).items()]
            group = self.autoscaling.create_auto_scaling_group(
                name=name, availability_zones=[] if subnets else [f"{self.ec2.region_name}a"],
                desired_capacity=0, max_size=max(1, math.ceil(float(cr.get("maxvCpus") or 0) / per)),
                min_size=0, launch_config_name=None, launch_template=None,
                vpc_zone_identifier=",".join(subnets) or None, default_cooldown=None, health_check_period=None,
                health_check_type="EC2", load_balancers=[], target_group_arns=[], placement_group=None,
                termination_policies=[], tags=tags,
                mixed_instances_policy={"LaunchTemplate": {
                    "LaunchTemplateSpecification": {"LaunchTemplateName": lt_name, "Version": "$Latest"},
                    "Overrides": overrides}, "InstancesDistribution": distribution})
        except Exception as exc:  # moto's ValidationError etc.: keep the other CEs going
            if ce.arn not in self._refused:
                self._refused.add(ce.arn)
                log.error("auto scaling group for %s not created: %s", ce.name, exc)
            return None
        self._refused.discard(ce.arn)
        if spot:
            self._launch_as_spot(group)
        self.groups[ce.arn] = name
        log.info("auto scaling group %s (launch template %s) created for %s", name, lt_name, ce.name)
        return group

    @staticmethod
    def _launch_as_spot(group) -> None:
        """Make every instance this group launches a Spot instance (``InstanceLifecycle`` ``spot``).

        moto's Auto Scaling launches every instance on-demand (its MixedInstancesPolicy only counts
        Spot and on-demand); this wraps the one method through which the group launches, for scale-out
        and for moto's own replacement of an instance terminated through the EC2 API, so the instance
        is Spot from the moment it exists.
        """
        launch = group.replace_autoscaling_group_instances

        def launch_spot(count_needed, propagated_tags):
            before = len(group.instance_states)
            launch(count_needed, propagated_tags)
            for state in group.instance_states[before:]:
                state.instance.lifecycle = "spot"

        group.replace_autoscaling_group_instances = launch_spot

    def _maintain_group(self, ce, group) -> None:
        """Auto Scaling's EC2 health check: drop instances that stopped running and launch replacements
        up to the desired capacity; register every new instance with the CE's ECS cluster."""
        states = group.instance_states
        alive = [st for st in states if self._running(st.instance)]
        if len(alive) != len(states):
            group.instance_states = alive
        if len(alive) < (group.desired_capacity or 0):
            log.info("auto scaling group %s replaces %d instance(s)", group.name,
                     group.desired_capacity - len(alive))
            group.set_desired_capacity(group.desired_capacity)
        for st in group.instance_states:
            if st.instance.id not in self.hosts and self._running(st.instance):
                self._register(ce, st.instance, None, group.name)

    def _scale_group(self, ce, want: float, per: float, now: float, enabled: bool) -> None:
        cr = ce.compute_resources or {}
        group = self._ensure_group(ce, self._instance_type(ce), per)
        if group is None:
            return
        group.max_size = max(1, math.ceil(float(cr.get("maxvCpus") or 0) / per))
        self._maintain_group(ce, group)
        hosts = [self.hosts[st.instance.id] for st in group.instance_states if st.instance.id in self.hosts]
        have = sum(h.vcpus for h in hosts)
        if not enabled:
            want = min(want, have)  # DISABLED: no scale-out; idle hosts still go (to minvCpus)
        desired = math.ceil(want / per - 1e-9) if want > 0 else 0
        if desired > (group.desired_capacity or 0) and desired > len(hosts):
            log.info("auto scaling group %s desired capacity %s -> %s instances", group.name,
                     group.desired_capacity, desired)
            group.set_desired_capacity(desired)
            self._maintain_group(ce, group)
        elif want < have:
            for h in hosts:  # scale in, idle hosts only (TerminateInstanceInAutoScalingGroup, decrement)
                if h.jobs or now - h.idle_since < self.idle_seconds:
                    continue
                if have - h.vcpus < want:
                    break
                have -= h.vcpus
                log.info("auto scaling group %s terminates idle %s", group.name, h.instance_id)
                self.autoscaling.terminate_instance(h.instance_id, should_decrement=True)

    def _delete_group(self, ce_arn: str) -> None:
        """CE deleted: delete its group (terminating the instances) and its launch template."""
        name = self.groups.pop(ce_arn, None)
        if name and name in self.autoscaling.autoscaling_groups:
            self.autoscaling.delete_auto_scaling_group(name)
            log.info("auto scaling group %s deleted with its compute environment", name)
        lt_name = self.templates.pop(ce_arn, None)
        if lt_name and lt_name in self.ec2.launch_template_name_to_ids:
            self.ec2.delete_launch_template(lt_name, None)
        self._refused.discard(ce_arn)

    # ---------------------------------------------------------------- the tick
    def reap(self) -> List[Host]:
        """Hosts whose instance stopped existing since the last call (any path)."""
        lost = [h for h in self.hosts.values() if not self._host_alive(h)]
        live_ces = {ce.arn for ce in self.batch._compute_environments.values()}
        lost += [h for h in self.hosts.values() if h.ce_arn not in live_ces and h not in lost]
        for host in lost:
            log.warning("instance %s of %s is gone", host.instance_id, host.ce_arn.split("/")[-1])
            self._forget(host)
        return lost

    def scale(self, demand_vcpus: Dict[str, float], now: float) -> None:
        """Move every managed CE towards ``clamp(demand, minvCpus, maxvCpus)`` vCPUs.

        ``demand_vcpus`` maps CE ARN → vCPUs wanted by placed jobs plus RUNNABLE jobs that have
        waited long enough to trigger a scale-up. Scale-in only removes hosts idle for
        ``idle_seconds``. A DISABLED CE never scales out and keeps hosts that hold jobs.
        """
        live = {ce.arn: ce for ce in self.batch._compute_environments.values()}
        for ce_arn in list(self.fleets):
            if ce_arn not in live:  # CE deleted: cancel its fleet and terminate its instances
                fid = self.fleets.pop(ce_arn)
                if fid in self.ec2.spot_fleet_requests:
                    self.ec2.cancel_spot_fleet_requests([fid], terminate_instances=True)
        for ce_arn in set(self.groups) | set(self.templates):
            if ce_arn not in live:
                self._delete_group(ce_arn)
        for ce in live.values():
            if not self.managed(ce):
                continue
            cr = ce.compute_resources or {}
            enabled = ce.state == "ENABLED"
            lo, hi = float(cr.get("minvCpus") or 0), float(cr.get("maxvCpus") or 0)
            want = min(max(demand_vcpus.get(ce.arn, 0.0), lo), hi)
            itype = self._instance_type(ce)
            per, _ = type_capacity(itype)
            if not self.uses_spot_fleet(ce):
                self._scale_group(ce, want, per, now, enabled)
                continue
            hosts = self.hosts_of(ce.arn)
            have = sum(h.vcpus for h in hosts)
            if not enabled:
                want = min(want, have)  # DISABLED: no scale-out; idle hosts still go (to minvCpus)
            idle = [h for h in hosts if not h.jobs and now - h.idle_since >= self.idle_seconds]
            fleet = self._ensure_fleet(ce)
            if want > fleet.target_capacity:
                self._set_fleet_target(fleet, math.ceil(want / per) * per)
            elif want < have:
                # scale in, idle hosts only
                for h in idle:
                    if have - h.vcpus < want:
                        break
                    have -= h.vcpus
                    self._set_fleet_target(fleet, max(0.0, fleet.target_capacity - h.vcpus))
                    fleet.spot_requests = [r for r in fleet.spot_requests if r.instance.id != h.instance_id]
                    self.ec2.terminate_instances([h.instance_id])
            self._maintain_fleet(ce, fleet)
