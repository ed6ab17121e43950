"""Compute capacity for managed compute environments, following demand.

What AWS does (AWS Batch User Guide, "Compute environments" → "Managed compute environments",
"Allocation strategies", "Amazon EC2 spot fleet role"; Amazon EC2 User Guide, "Spot Fleet" →
"Spot Fleet request types" and "Modify a Spot Fleet request"):

* A MANAGED SPOT compute environment with allocation strategy BEST_FIT (or none) is served by a
  Spot Fleet request of type ``maintain``, launched with the CE's Spot Fleet role
  (``spotIamFleetRole``); other Spot strategies use Auto Scaling groups, emulated here as plain
  Spot-priced instances. An EC2 (on-demand) CE gets on-demand instances.
* Capacity follows demand between ``minvCpus`` and ``maxvCpus``; the fleet's target capacity is
  in vCPUs (each launch specification's WeightedCapacity is its instance type's vCPU count).
* A DISABLED compute environment keeps its instances while jobs run on them: "Jobs in a STARTING or
  RUNNING state continue to progress normally. Managed compute environments in the DISABLED state
  don't scale out." and idle instances scale down to ``minvCpus`` (AWS Batch API Reference,
  "ComputeEnvironmentDetail" → state, and "UpdateComputeEnvironment" → state).
* A ``maintain`` fleet replaces instances that stop; lowering its target capacity terminates
  instances, which AWS Spot marks with an interruption notice.
* Instances carry the CE's ``computeResources.tags`` and a tag naming the CE
  (``AWSBatchServiceTag``); Spot Fleet instances also carry ``aws:ec2spot:fleet-request-id``.
  Each instance joins the CE's ECS cluster as a container instance (``ec2InstanceId``).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from itertools import cycle
from typing import Dict, List, Optional, Set

from moto.ec2.models.instance_types import INSTANCE_TYPES

log = logging.getLogger("spotkit.emulator.capacity")

DEFAULT_IMAGE = "ami-12c6146b"
#: What "optimal" (and family names) resolve to in the emulator.
OPTIMAL_TYPE = "m5.large"
CE_NAME_TAG = "AWSBatchServiceTag"
FLEET_TAG = "aws:ec2spot:fleet-request-id"


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
    used_vcpus: float = 0.0
    used_memory_mib: int = 0
    jobs: Set[str] = field(default_factory=set)
    idle_since: float = field(default_factory=time.monotonic)

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
    """Keeps every managed CE's instances in line with demand; reports hosts that vanish."""

    def __init__(self, batch, ec2, ecs, boot_seconds: float = 1.0, idle_seconds: float = 30.0):
        self.batch, self.ec2, self.ecs = batch, ec2, ecs
        self.boot_seconds = boot_seconds
        self.idle_seconds = idle_seconds
        self.hosts: Dict[str, Host] = {}
        self.fleets: Dict[str, str] = {}  # CE ARN -> Spot Fleet request id
        self.plain: Dict[str, List[str]] = {}  # CE ARN -> instance ids (non-fleet CEs)
        self._subnets: Dict[str, cycle] = {}

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def managed(ce) -> bool:
        cr = ce.compute_resources or {}
        return ce.env_type == "MANAGED" and cr.get("type") in ("SPOT", "EC2")

    @staticmethod
    def uses_spot_fleet(ce) -> bool:
        cr = ce.compute_resources or {}
        return cr.get("type") == "SPOT" and cr.get("allocationStrategy") in (None, "", "BEST_FIT")

    def _instance_type(self, ce) -> str:
        types = (ce.compute_resources or {}).get("instanceTypes") or ["optimal"]
        return resolve_instance_type(types[0])

    def _tags(self, ce) -> dict:
        tags = dict((ce.compute_resources or {}).get("tags") or {})
        tags[CE_NAME_TAG] = ce.name
        return tags

    def hosts_of(self, ce_arn: str) -> List[Host]:
        return [h for h in self.hosts.values() if h.ce_arn == ce_arn]

    def _instance_alive(self, instance_id: str) -> bool:
        try:
            inst = self.ec2.get_instance(instance_id)
        except Exception:  # moto raises InvalidInstanceID.NotFound
            return False
        return inst.state in ("pending", "running")

    def _register(self, ce, instance, fleet_id: Optional[str]) -> None:
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
            ready_at=time.monotonic() + self.boot_seconds, fleet_id=fleet_id)
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
                                 "Tags": [{"Key": CE_NAME_TAG, "Value": ce.name}]}])
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

    # ---------------------------------------------------------------- the tick
    def reap(self) -> List[Host]:
        """Hosts whose instance stopped existing since the last call (any path)."""
        lost = [h for h in self.hosts.values() if not self._instance_alive(h.instance_id)]
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
        for ce_arn in list(self.plain):
            if ce_arn not in live:
                ids = [i for i in self.plain.pop(ce_arn) if self._instance_alive(i)]
                if ids:
                    self.ec2.terminate_instances(ids)
        for ce in live.values():
            if not self.managed(ce):
                continue
            cr = ce.compute_resources or {}
            enabled = ce.state == "ENABLED"
            lo, hi = float(cr.get("minvCpus") or 0), float(cr.get("maxvCpus") or 0)
            want = min(max(demand_vcpus.get(ce.arn, 0.0), lo), hi)
            itype = self._instance_type(ce)
            per, _ = type_capacity(itype)
            hosts = self.hosts_of(ce.arn)
            have = sum(h.vcpus for h in hosts)
            if not enabled:
                want = min(want, have)  # DISABLED: no scale-out; idle hosts still go (to minvCpus)
            idle = [h for h in hosts if not h.jobs and now - h.idle_since >= self.idle_seconds]
            if self.uses_spot_fleet(ce):
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
            else:
                ids = [i for i in self.plain.setdefault(ce.arn, []) if self._instance_alive(i)]
                self.plain[ce.arn] = ids
                while have < want:
                    subnets = self._subnets.setdefault(ce.arn, cycle(cr.get("subnets") or [None]))
                    res = self.ec2.run_instances(
                        image_id=cr.get("imageId") or DEFAULT_IMAGE, count=1, user_data=None,
                        security_group_names=[], instance_type=itype, subnet_id=next(subnets),
                        security_group_ids=cr.get("securityGroupIds") or [],
                        tags={"instance": self._tags(ce)}, is_instance_type_default=False)
                    inst = res.instances[0]
                    ids.append(inst.id)
                    self._register(ce, inst, None)
                    have += per
                for h in idle:
                    if have - h.vcpus < want:
                        break
                    have -= h.vcpus
                    self.ec2.terminate_instances([h.instance_id])
