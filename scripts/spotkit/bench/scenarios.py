"""The four benchmarks. Each returns a plain dict (JSON-ready) of what it measured and checked.

* :func:`burst`: N single jobs RUNNING, one Spot capacity cut (fleet TargetCapacity -> 0) -> seconds
  until every failed job has been resubmitted, SubmitJob calls, throttles, and the lineage check
  (every failed job has exactly one successor whose ``spotkit:lineage`` tag names it as previous). It also
  yields the Batch API calls per resubmitted job (benchmark "calls").
* :func:`array`: one array job of ``size`` children RUNNING, ``reclaim`` of them lost with the hosts
  they run on -> SubmitJob calls and the index-map check (every reclaimed original index exactly
  once across the resubmitted jobs' ``SPOTKIT_ARRAY_INDEX_MAP`` / ``SPOTKIT_ARRAY_INDEX``, no survivor).
* the cold start (``import``): :mod:`spotkit.bench.coldstart`.

Times are wall-clock seconds on this machine; "resubmitted at" is the new job's ``createdAt`` as the
emulator recorded it, so the polling period does not blur the measurement.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional

from spotkit.bench.stage import (
    HOST_LOST_PREFIX,
    Pipeline,
    PipelineSettings,
    Stage,
    deploy_pipeline,
    fleet_of,
    make_batch_stack,
)
from spotkit.core import lineage
from spotkit.core.job import container_environment
from spotkit.runtime import decode_index_map

INDEX_MAP_ENV = "SPOTKIT_ARRAY_INDEX_MAP"
INDEX_ENV = "SPOTKIT_ARRAY_INDEX"


class BenchError(RuntimeError):
    """A benchmark could not reach the state it measures (timeout, stack not ready)."""


def _delta(after: dict, before: dict) -> Dict[str, int]:
    keys = sorted(set(after) | set(before))
    return {k: int(after.get(k, 0)) - int(before.get(k, 0)) for k in keys if after.get(k, 0) != before.get(k, 0)}


def counters_delta(s1: dict, s0: dict) -> dict:
    """What the emulator counted between two ``stats.json`` snapshots."""
    calls1, calls0 = s1.get("batch_api_calls") or {}, s0.get("batch_api_calls") or {}
    return {
        "function_batch_calls": _delta(calls1.get("lambda") or {}, calls0.get("lambda") or {}),
        "submit_job": _delta({k: v for k, v in (s1.get("submit_job") or {}).items() if k in ("accepted", "throttled")},
                             {k: v for k, v in (s0.get("submit_job") or {}).items() if k in ("accepted", "throttled")}),
        "sqs_event_sources": _delta(s1.get("sqs_event_sources") or {}, s0.get("sqs_event_sources") or {}),
        "events_put_events": int(((s1.get("events_api_calls") or {}).get("lambda") or {}).get("PutEvents", 0))
        - int(((s0.get("events_api_calls") or {}).get("lambda") or {}).get("PutEvents", 0)),
    }


def check_calls(calls: Dict[str, int], submit_job: Dict[str, int], esm: Dict[str, int]) -> dict:
    """Cross-check the function's Batch calls (the emulator's ``lambda`` caller counters, by action)
    against the emulator's other counters, for a run where every record is a single job's reclaim.

    * SubmitJob: the function's calls == accepted + throttled SubmitJob calls counted by the quota
      (nobody else submits during the measured window);
    * DescribeJobs: one per 100 records of each invocation, so ``batches`` <= DescribeJobs <=
      ``batches + (records - batches) // 100`` (``batches`` invocations delivered ``records`` records,
      redeliveries included).

    Returns:
        ``{"describe_jobs": n, "describe_jobs_bounds": [low, high], "submit_job_counted": n,
        "problems": [str]}`` (``problems`` empty when consistent).
    """
    problems = []
    submitted = int(submit_job.get("accepted", 0)) + int(submit_job.get("throttled", 0))
    if calls.get("SubmitJob", 0) != submitted:
        problems.append(f"the function's SubmitJob calls ({calls.get('SubmitJob', 0)}) differ from the quota's "
                        f"accepted + throttled ({submitted})")
    batches, records = int(esm.get("batches", 0)), int(esm.get("records", 0))
    low, high = batches, batches + max(records - batches, 0) // 100
    describe = calls.get("DescribeJobs", 0)
    if not low <= describe <= high:
        problems.append(f"DescribeJobs {describe} outside [{low}, {high}] for {batches} invocations of {records} "
                        "records (one per 100 records of an invocation)")
    return {"describe_jobs": describe, "describe_jobs_bounds": [low, high], "submit_job_counted": submitted,
            "problems": problems}


def _wait(what: str, check: Callable[[], Optional[str]], timeout: float, progress, poll: float = 1.0) -> None:
    """Call ``check`` until it returns None (done); it returns a progress line otherwise.

    Raises:
        BenchError: not done within ``timeout`` seconds.
    """
    started = time.monotonic()
    while True:
        line = check()
        if line is None:
            return
        elapsed = time.monotonic() - started
        progress(f"  {what}: {line} ({elapsed:.0f} s)", key=what)
        if elapsed > timeout:
            raise BenchError(f"{what}: not done after {timeout:.0f} s ({line})")
        time.sleep(poll)


def _settle(stage: Stage, pipeline: Pipeline, expected_records: int, s0: dict, timeout: float, progress,
            what: str) -> dict:
    """Wait until the events queue is empty and every expected record was consumed (deleted by the
    event source mapping, or dead-lettered), twice in a row; return a fresh counters snapshot."""
    state = {"quiet": 0}

    def check() -> Optional[str]:
        snap = stage.stats(newer_than=0)
        d = counters_delta(snap, s0)
        deleted = d["sqs_event_sources"].get("deleted", 0)
        depth, dlq = stage.queue_depth(pipeline.events_queue_url), stage.queue_depth(pipeline.dlq_url)
        done = depth == 0 and deleted + dlq >= expected_records
        state["quiet"] = state["quiet"] + 1 if done else 0
        if state["quiet"] >= 2:
            return None
        return (f"{d['submit_job'].get('accepted', 0)} SubmitJob accepted, {d['submit_job'].get('throttled', 0)} "
                f"throttled; {deleted}/{expected_records} records done, queue {depth}, DLQ {dlq}")

    _wait(what, check, timeout, progress)
    return stage.stats(newer_than=time.time())


def _submit_paced(stage: Stage, count: int, rate: float, make_request: Callable[[int], dict], progress) -> List[str]:
    """Submit ``count`` jobs at most ``rate`` per second (0: unpaced), retrying throttles (boto3 standard mode)."""
    ids: List[str] = []
    started = time.monotonic()
    for i in range(count):
        if rate > 0:
            due = started + i / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        ids.append(stage.batch.submit_job(**make_request(i))["jobId"])
        progress(f"  submitting: {i + 1}/{count}", key="submit")
    return ids


def _successors(stage: Stage, queue_arn: str, exclude: set) -> List[dict]:
    """Every job of the queue (all statuses) not in ``exclude`` that carries the lineage tag."""
    ids = [s["jobId"] for s in stage.list_jobs(queue_arn) if s["jobId"] not in exclude]
    return [d for d in stage.describe_jobs(ids) if _previous(d)]


def _previous(detail: dict) -> Optional[str]:
    """The failed job ``detail`` replaces, from its ``spotkit:lineage`` tag (None: not a resubmission)."""
    return lineage.previous_job_id(detail.get("tags") or {})


# ------------------------------------------------------------------------------ burst

def burst(stage: Stage, zip_path: Path, settings: PipelineSettings, *, jobs: int, submit_job_rate: float,
          instance_type: str, timeout: float, progress) -> dict:
    """Benchmark 1 (and 3): see the module docstring. Returns the result dict."""
    progress(f"burst: {jobs} running jobs, one capacity cut (pipeline {settings.as_dict()['batch_size']}/"
             f"{settings.window_seconds}s/{settings.max_concurrency})", force=True)
    stack = make_batch_stack(stage, "bench-burst", instance_type=instance_type,
                             hosts=math.ceil(jobs / _vcpus(stage, instance_type)), job_vcpus=1, job_memory_mib=512)
    pipeline = deploy_pipeline(stage, "bench-burst", zip_path, [stack.queue_arn], settings)
    harness_rate = 0.9 * submit_job_rate if submit_job_rate > 0 else 0
    originals = _submit_paced(stage, jobs, harness_rate, lambda i: {
        "jobName": f"burst-{i:05d}", "jobQueue": stack.queue_arn, "jobDefinition": stack.job_definition_arn,
        "tags": {"bench": "burst"}}, progress)

    def running() -> Optional[str]:
        n = len(stage.list_jobs(stack.queue_arn, ["RUNNING"]))
        return None if n >= jobs else f"{n}/{jobs} RUNNING"

    _wait("waiting for RUNNING", running, timeout, progress)
    fleet = fleet_of(stage, stack.ce_name)
    if fleet is None:
        raise BenchError(f"no active Spot Fleet request for {stack.ce_name}")
    fleet_id = fleet["SpotFleetRequestId"]
    target_before = fleet["SpotFleetRequestConfig"]["TargetCapacity"]
    s0 = stage.stats(newer_than=time.time())
    progress(f"  all {jobs} RUNNING on {math.ceil(target_before / stack.host_vcpus)} x {instance_type}; cutting "
             f"Spot Fleet {fleet_id} target capacity {target_before} -> 0", force=True)
    t_cut = time.time()
    stage.ec2.modify_spot_fleet_request(SpotFleetRequestId=fleet_id, TargetCapacity=0)
    s1 = _settle(stage, pipeline, jobs, s0, timeout, progress, "resubmitting")
    t_settled = time.time()

    originals_set = set(originals)
    details = stage.describe_jobs(originals)
    failed = {d["jobId"] for d in details
              if d["status"] == "FAILED" and (d.get("statusReason") or "").startswith(HOST_LOST_PREFIX)}
    successors = _successors(stage, stack.queue_arn, originals_set)
    by_previous: Dict[str, List[dict]] = defaultdict(list)
    for d in successors:
        by_previous[_previous(d)].append(d)
    lost = sorted(j for j in failed if not by_previous.get(j))
    duplicated = sorted(j for j in failed if len(by_previous.get(j, [])) > 1)
    strays = sorted(p for p in by_previous if p not in failed)
    created = sorted(d["createdAt"] / 1000.0 for d in successors if _previous(d) in failed)
    delta = counters_delta(s1, s0)
    calls = delta["function_batch_calls"]
    resubmitted = len(failed) - len(lost)
    seconds = (created[-1] - t_cut) if created and not lost else None
    calls_check = check_calls(calls, delta["submit_job"], delta["sqs_event_sources"])
    floor = jobs / submit_job_rate if submit_job_rate > 0 else None
    return {
        "jobs": jobs,
        "instance_type": instance_type,
        "hosts": math.ceil(target_before / stack.host_vcpus),
        "spot_fleet_request_id": fleet_id,
        "failed_by_cut": len(failed),
        "resubmitted": resubmitted,
        "lost": len(lost),
        "duplicated": len(duplicated),
        "successors_of_other_jobs": len(strays),
        "lost_job_ids": lost[:20],
        "duplicated_job_ids": duplicated[:20],
        "seconds_to_first_resubmission": round(created[0] - t_cut, 3) if created else None,
        "seconds_to_median_resubmission": round(statistics.median(created) - t_cut, 3) if created else None,
        "seconds_to_all_resubmitted": round(seconds, 3) if seconds is not None else None,
        "seconds_to_settled": round(t_settled - t_cut, 3),
        "quota_floor_seconds": floor,
        "ratio_to_quota_floor": round(seconds / floor, 3) if seconds is not None and floor else None,
        "submit_job_calls": calls.get("SubmitJob", 0),
        "submit_job_accepted": delta["submit_job"].get("accepted", 0),
        "throttles": delta["submit_job"].get("throttled", 0),
        "decision_events": _decision_events(stage, pipeline, resubmitted, delta),
        "function_batch_calls_by_action": calls,
        "function_batch_calls": sum(calls.values()),
        "batch_calls_per_resubmitted_job": round(sum(calls.values()) / resubmitted, 3) if resubmitted else None,
        "batch_calls_per_resubmitted_job_by_action": {k: round(v / resubmitted, 4) for k, v in calls.items()}
        if resubmitted else {},
        "calls_check": calls_check,
        "event_source_mapping": delta["sqs_event_sources"],
        "dlq_messages": stage.queue_depth(pipeline.dlq_url),
        "correct": bool(failed) and len(failed) == jobs and not lost and not duplicated and not strays
        and not calls_check["problems"],
    }


def _decision_events(stage: Stage, pipeline: Pipeline, resubmitted: int, delta: dict) -> dict:
    """What the function published: events in the subscriber queue (one "Job Resubmitted" per job is
    expected), and its PutEvents calls against the ceiling of one per 10 decisions plus one partial
    call per invocation."""
    if not pipeline.decisions_queue_url:
        return {"published": False}
    calls = int(delta.get("events_put_events", 0))
    invocations = int((delta.get("sqs_event_sources") or {}).get("batches", 0))
    received = stage.queue_depth(pipeline.decisions_queue_url)
    return {"published": True, "events_received": received, "expected": resubmitted,
            "put_events_calls": calls, "put_events_ceiling": math.ceil(resubmitted / 10) + invocations,
            "put_events_per_resubmitted_job": round(calls / resubmitted, 4) if resubmitted else None}


def _vcpus(stage: Stage, instance_type: str) -> int:
    from spotkit.bench.stage import instance_shape

    return instance_shape(stage, instance_type)[0]


# ------------------------------------------------------------------------------ array

def array(stage: Stage, zip_path: Path, settings: PipelineSettings, *, size: int, reclaim: int, per_host: int,
          instance_type: str, timeout: float, progress, seed: int = 7) -> dict:
    """Benchmark 2: see the module docstring. Children are packed ``per_host`` to an instance (1 vCPU
    and 1/``per_host`` of the instance's memory each), so reclaiming ``reclaim / per_host`` instances
    loses exactly ``reclaim`` children. Returns the result dict.

    Raises:
        ValueError: ``size`` or ``reclaim`` is not a multiple of ``per_host``, or ``per_host`` exceeds
            the instance type's vCPUs.
    """
    from spotkit.bench.stage import instance_shape

    host_vcpus, host_memory = instance_shape(stage, instance_type)
    if size % per_host or reclaim % per_host or not 0 < reclaim < size:
        raise ValueError(f"array size {size} and reclaim {reclaim} must be multiples of {per_host} children per "
                         "host, with 0 < reclaim < size")
    if per_host > host_vcpus:
        raise ValueError(f"{instance_type} has {host_vcpus} vCPUs: at most that many 1-vCPU children per host")
    hosts, lost_hosts = size // per_host, reclaim // per_host
    progress(f"array: {size} children on {hosts} x {instance_type} ({per_host} per host), {lost_hosts} hosts "
             f"reclaimed = {reclaim} children", force=True)
    stack = make_batch_stack(stage, "bench-array", instance_type=instance_type, hosts=hosts, job_vcpus=1,
                             job_memory_mib=host_memory // per_host, pin_hosts=True)
    pipeline = deploy_pipeline(stage, "bench-array", zip_path, [stack.queue_arn], settings)
    parent = stage.batch.submit_job(jobName="array-bench", jobQueue=stack.queue_arn,
                                    jobDefinition=stack.job_definition_arn, arrayProperties={"size": size},
                                    tags={"bench": "array"})["jobId"]

    def summary() -> dict:
        return stage.batch.describe_jobs(jobs=[parent])["jobs"][0]["arrayProperties"]["statusSummary"]

    def running() -> Optional[str]:
        n = summary().get("RUNNING", 0)
        return None if n >= size else f"{n}/{size} children RUNNING"

    _wait("waiting for RUNNING", running, timeout, progress)
    fleet = fleet_of(stage, stack.ce_name)
    if fleet is None:
        raise BenchError(f"no active Spot Fleet request for {stack.ce_name}")
    instances = sorted(i["InstanceId"] for i in stage.ec2.describe_spot_fleet_instances(
        SpotFleetRequestId=fleet["SpotFleetRequestId"])["ActiveInstances"])
    doomed = sorted(random.Random(seed).sample(instances, lost_hosts))
    s0 = stage.stats(newer_than=time.time())
    progress(f"  all {size} children RUNNING; Spot reclaims {lost_hosts} of {len(instances)} instances", force=True)
    t_cut = time.time()
    stage.ec2.terminate_instances(InstanceIds=doomed)

    def failed_all() -> Optional[str]:
        n = summary().get("FAILED", 0)
        return None if n >= reclaim else f"{n}/{reclaim} children FAILED"

    _wait("waiting for the reclaim", failed_all, timeout, progress)
    s1 = _settle(stage, pipeline, reclaim, s0, timeout, progress, "resubmitting")
    t_settled = time.time()

    child_ids = [s["jobId"] for status in ("FAILED", "RUNNING") for s in stage.batch.get_paginator("list_jobs")
                 .paginate(arrayJobId=parent, jobStatus=status).build_full_result()["jobSummaryList"]]
    children = stage.describe_jobs(child_ids)
    reclaimed = {d["arrayProperties"]["index"]: d["jobId"] for d in children
                 if d["status"] == "FAILED" and (d.get("statusReason") or "").startswith(HOST_LOST_PREFIX)}
    survivors = {d["arrayProperties"]["index"] for d in children if d["jobId"] not in reclaimed.values()}
    successors = _successors(stage, stack.queue_arn, {parent})
    seen: Counter = Counter()
    arrays, singles, bad_maps = [], 0, []
    for d in successors:
        env = container_environment(d)
        if INDEX_MAP_ENV in env:
            try:
                indexes = decode_index_map(env[INDEX_MAP_ENV])
            except ValueError as exc:
                bad_maps.append(f"{d['jobId']}: {exc}")
                continue
            size_new = (d.get("arrayProperties") or {}).get("size")
            if size_new != len(indexes):
                bad_maps.append(f"{d['jobId']}: array size {size_new} but {len(indexes)} indexes in the map")
            if _previous(d) != parent:
                bad_maps.append(f"{d['jobId']}: lineage previous {_previous(d)} is not the parent")
            arrays.append({"jobId": d["jobId"], "size": size_new, "map_chars": len(env[INDEX_MAP_ENV])})
            seen.update(indexes)
        elif INDEX_ENV in env:
            singles += 1
            seen[int(env[INDEX_ENV])] += 1
            if reclaimed.get(int(env[INDEX_ENV])) != _previous(d):
                bad_maps.append(f"{d['jobId']}: previous-job-id is not the child that ran index {env[INDEX_ENV]}")
        else:
            bad_maps.append(f"{d['jobId']}: lineage tag but neither {INDEX_MAP_ENV} nor {INDEX_ENV}")
    missing = sorted(i for i in reclaimed if seen[i] == 0)
    twice = sorted(i for i in reclaimed if seen[i] > 1)
    survivors_rerun = sorted(i for i in seen if i in survivors)
    unknown = sorted(i for i in seen if i not in reclaimed and i not in survivors)
    created = sorted(d["createdAt"] / 1000.0 for d in successors)
    delta = counters_delta(s1, s0)
    calls = delta["function_batch_calls"]
    return {
        "array_size": size,
        "children_per_host": per_host,
        "instance_type": instance_type,
        "hosts": hosts,
        "hosts_reclaimed": lost_hosts,
        "reclaimed_children": len(reclaimed),
        "surviving_children": len(survivors),
        "resubmitted_array_jobs": len(arrays),
        "resubmitted_single_jobs": singles,
        "array_job_sizes": sorted(a["size"] or 0 for a in arrays),
        "longest_index_map_chars": max((a["map_chars"] for a in arrays), default=0),
        "reclaimed_indexes_missing": len(missing),
        "reclaimed_indexes_duplicated": len(twice),
        "surviving_indexes_resubmitted": len(survivors_rerun),
        "unknown_indexes": len(unknown),
        "problems": bad_maps[:20] + [f"missing index {i}" for i in missing[:10]]
        + [f"index {i} resubmitted more than once" for i in twice[:10]]
        + [f"surviving index {i} resubmitted" for i in survivors_rerun[:10]],
        "submit_job_calls": calls.get("SubmitJob", 0),
        "submit_job_accepted": delta["submit_job"].get("accepted", 0),
        "throttles": delta["submit_job"].get("throttled", 0),
        "function_batch_calls_by_action": calls,
        "seconds_to_all_resubmitted": round(created[-1] - t_cut, 3) if created and not missing else None,
        "seconds_to_settled": round(t_settled - t_cut, 3),
        "event_source_mapping": delta["sqs_event_sources"],
        "dlq_messages": stage.queue_depth(pipeline.dlq_url),
        "correct": (len(reclaimed) == reclaim and not missing and not twice and not survivors_rerun
                    and not unknown and not bad_maps),
    }
