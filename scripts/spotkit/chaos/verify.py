"""Did every job on an interrupted instance come back, exactly once?

:class:`RecoveryTracker` watches the jobs that were RUNNING on the interrupted instances
(:func:`spotkit.chaos.workload.running_jobs_by_instance`) and, poll by poll, moves each one's
:class:`JobOutcome` through ``waiting-failure`` -> ``failed-on-host`` -> ``recovered`` ->
``running-again``, or to ``problem``.

What "exactly once" means here:

* the watched attempt fails with ``Host EC2 (instance <its instance>) terminated.``; a failure for
  another reason or on another instance, or SUCCEEDED before the loss, is a problem;
* native retry (``native_retry=True``): a new attempt of the same job (more attempts than when
  watched) reaches RUNNING, and nothing resubmitted it as well (0 successors);
* resubmitted plain job: exactly one successor -- a job in the original's queue (or the on-demand
  fallback queue, :func:`spotkit.core.decide.target_job_queue`) whose lineage says
  ``previous=<job id>`` (:func:`spotkit.core.lookup.find_successors`) -- that matches the original
  (:func:`check_resubmission`) and reaches RUNNING;
* resubmitted array child ``<parent>:<i>``: the function regroups reclaimed children of one parent
  into array jobs whose lineage says ``previous=<parent>`` and whose ``SPOTKIT_ARRAY_INDEX_MAP``
  maps new index -> original index (a lone child comes back as a single job with lineage
  ``previous=<parent>:<i>`` and ``SPOTKIT_ARRAY_INDEX=<original index>``; functions/resubmit/stages.py
  ``_submit_group``). The child's original index must be covered by exactly one new child, which
  reaches RUNNING; a successor of the parent that is not such a regroup means the parent itself
  was resubmitted: a problem. Two covers of one original index are a duplicate, and so is a regroup
  that also maps an index whose child was not watched and lost on its host (still RUNNING on another
  instance, or never on an interrupted one).

Lookups are eventually consistent (ListJobs, https://docs.aws.amazon.com/batch/latest/APIReference/API_ListJobs.html):
a successor not found yet is looked for again on the next poll, never concluded missing; successors
seen once are remembered. The caller owns the timeout and then calls :meth:`RecoveryTracker.expire`.

AWS behaviour relied on: a Spot host loss is reported as statusReason
``Host EC2 (instance <id>) terminated.`` (https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html);
DescribeJobs takes at most 100 job ids per call; array children do not carry their parent's tags
(https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html), so a child's lineage and user
tags are read from its parent, as the resubmit function does.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from spotkit.core import config, lineage
from spotkit.core.decide import target_job_queue
from spotkit.core.indexmap import ARRAY_INDEX_ENV, ARRAY_INDEX_MAP_ENV, decode_index_map
from spotkit.core.job import JobDetail, container_environment
from spotkit.core.lookup import describe_jobs, find_successors
from spotkit.core.submit import original_array_index, revision_of

HOST_TERMINATED_RE = re.compile(r"^Host EC2 \(instance (?P<instance>i-[0-9a-zA-Z]+)\) terminated\.?$")

STATE_WAITING_FAILURE = "waiting-failure"
STATE_FAILED_ON_HOST = "failed-on-host"
STATE_RECOVERED = "recovered"
STATE_RUNNING_AGAIN = "running-again"
STATE_PROBLEM = "problem"
FINAL_STATES = (STATE_RUNNING_AGAIN, STATE_PROBLEM)

RECOVERY_RESUBMITTED = "resubmitted"
RECOVERY_NATIVE = "native-retry"

ACTIVE_JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


def host_terminated_instance(status_reason: str | None) -> str | None:
    """The instance id in a ``Host EC2 (instance i-...) terminated.`` statusReason, else None."""
    m = HOST_TERMINATED_RE.match((status_reason or "").strip())
    return m.group("instance") if m else None


def _queue_name(queue: str | None) -> str:
    return (queue or "").rsplit("/", 1)[-1]


def same_queue(a: str | None, b: str | None) -> bool:
    """True when two job queue names/ARNs name the same queue (ARN ``...:job-queue/<name>``)."""
    return bool(a) and bool(b) and (a == b or _queue_name(a) == _queue_name(b))


def expected_job_queue(original: dict, *, fallback_job_queue: str | None = None,
                       fallback_after_losses: int | None = None) -> tuple[str, bool]:
    """``(queue the function resubmits ``original`` to, True when it is the fallback queue)``:
    :func:`spotkit.core.decide.target_job_queue` with the given fallback settings (None: the
    function's defaults, i.e. ``SPOTKIT_FALLBACK_AFTER_LOSSES`` = 2).

    Raises:
        lineage.LineageError: the original's lineage tag is malformed.
    """
    environ = {config.FALLBACK_QUEUE_ENV: fallback_job_queue or ""}
    if fallback_after_losses is not None:
        environ[config.FALLBACK_AFTER_ENV] = str(fallback_after_losses)
    failed = lineage.of_job(original.get("tags") or {}, original["jobId"], container_environment(original))
    return target_job_queue(JobDetail(original), failed, environ)


def check_resubmission(original: dict, new: dict, *, fallback_job_queue: str | None = None,
                       fallback_after_losses: int | None = None) -> list[str]:
    """Compare a resubmitted job with the job it replaces (both DescribeJobs JobDetails).

    For an array regroup pass as ``original`` the reclaimed child's detail with the parent's
    ``jobId`` and tags (the regroup replaces the parent); for a lone child's single job, the
    child's detail with the parent's tags (children carry none).

    Checked: the lineage (tag ``spotkit:lineage``, or ``SPOTKIT_LINEAGE`` in the environment when
    50 user tags leave no room) is the original's successor (original, previous, count); every user
    tag carried over; no ``resourceArn`` tag (the event's placeholder); ``jobDefinition`` equal, or
    another revision of the same family with the lineage's ``revision-from`` naming the original's
    revision (the function's documented switch when a revision was deregistered); ``jobQueue``
    equal, or the fallback queue when the lineage's loss count reaches ``fallback_after_losses``
    (:func:`expected_job_queue`); ``container.command``; ``timeout``.

    Returns:
        The failed checks, one sentence each ([] when it matches).
    """
    otags, ntags = original.get("tags") or {}, new.get("tags") or {}
    problems: list[str] = []
    try:
        before = lineage.of_job(otags, original["jobId"], container_environment(original))
    except lineage.LineageError as exc:
        return [f"the original's lineage is unreadable: {exc}"]
    expected = before.successor(original["jobId"])
    try:
        got = lineage.read_job(ntags, container_environment(new), new["jobId"])
    except lineage.LineageError as exc:
        got = None
        problems.append(str(exc))
    if got is None or (got.original_job_id, got.previous_job_id, got.count) != \
            (expected.original_job_id, expected.previous_job_id, expected.count):
        problems.append(f"lineage {lineage.encode(got) if got else None!r}, expected {lineage.encode(expected)!r}")
    lost = {k: v for k, v in lineage.user_tags(otags).items() if ntags.get(k) != v}
    if lost:
        problems.append(f"user tags not carried over: {lost}")
    if "resourceArn" in ntags:
        problems.append("the event's resourceArn placeholder became a tag")
    odef, ndef = original.get("jobDefinition"), new.get("jobDefinition")
    if odef != ndef:
        (ofam, orev), (nfam, nrev) = revision_of(odef or ""), revision_of(ndef or "")
        switched = (ofam == nfam and orev is not None and nrev is not None and nrev != orev
                    and got is not None and got.revision_from == orev)
        if not switched:
            problems.append(f"jobDefinition {ndef!r} differs from the original's {odef!r} "
                            "(and is not a revision switch recorded as revision-from in the lineage)")
    try:
        queue, fallback = expected_job_queue(original, fallback_job_queue=fallback_job_queue,
                                             fallback_after_losses=fallback_after_losses)
    except ValueError as exc:  # a bad fallback setting
        problems.append(f"cannot tell the expected queue: {exc}")
    else:
        if not same_queue(new.get("jobQueue"), queue):
            which = "the fallback queue" if fallback else "the original's queue"
            problems.append(f"jobQueue {new.get('jobQueue')!r} is not {which} {queue!r}")
    for name, get in (("container.command", lambda j: (j.get("container") or {}).get("command")),
                      ("timeout", lambda j: j.get("timeout"))):
        if get(original) != get(new):
            problems.append(f"{name} {get(new)!r} differs from the original's {get(original)!r}")
    return problems


@dataclass
class JobOutcome:
    """One job that ran on an interrupted instance, and what became of it.

    Attributes:
        job_id / job_name: the watched job (an array child is ``<parent>:<index>``).
        array_index: its array index (None for a plain job).
        instance_id: the EC2 instance it was RUNNING on when watched.
        attempts_before: how many attempts it had when watched (the current one not counted).
        state: ``waiting-failure`` | ``failed-on-host`` | ``recovered`` | ``running-again`` | ``problem``.
        failure_reason: the statusReason of the observed failure.
        recovery: ``resubmitted`` | ``native-retry`` once a recovery is seen.
        recovered_job_id: the job that runs it again: the same job id (native retry), the successor's
            id, or ``<new array job id>:<new index>`` for a regrouped array child.
        successors: how many resubmissions of it were found (1 expected when resubmitted, 0 native).
        problems: what broke the rules, one sentence each.
        seconds_to_failure / _recovery / _running: seconds from the injection (the tracker's
            ``injected_at``) to the poll that saw the failure, the recovery, and RUNNING again.
        original_index: the original array index it runs (a regrouped child's mapped index).
    """

    job_id: str
    job_name: str
    array_index: int | None
    instance_id: str
    attempts_before: int
    state: str = STATE_WAITING_FAILURE
    failure_reason: str | None = None
    recovery: str | None = None
    recovered_job_id: str | None = None
    successors: int = 0
    problems: list[str] = field(default_factory=list)
    seconds_to_failure: float | None = None
    seconds_to_recovery: float | None = None
    seconds_to_running: float | None = None
    original_index: int | None = None

    def passed(self) -> bool:
        """RUNNING again, no problems, and exactly one successor when resubmitted (none when native)."""
        wanted = 1 if self.recovery == RECOVERY_RESUBMITTED else 0
        return (self.state == STATE_RUNNING_AGAIN and not self.problems and self.recovery is not None
                and self.successors == wanted)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: job_id, job_name, array_index, instance_id, recovery, recovered_job_id, successors,
        passed, problems, seconds_to_failure, seconds_to_recovery, seconds_to_running, state,
        failure_reason (and attempts_before, original_index)."""
        return {"job_id": self.job_id, "job_name": self.job_name, "array_index": self.array_index,
                "instance_id": self.instance_id, "recovery": self.recovery,
                "recovered_job_id": self.recovered_job_id, "successors": self.successors,
                "passed": self.passed(), "problems": list(self.problems),
                "seconds_to_failure": self.seconds_to_failure, "seconds_to_recovery": self.seconds_to_recovery,
                "seconds_to_running": self.seconds_to_running, "state": self.state,
                "failure_reason": self.failure_reason, "attempts_before": self.attempts_before,
                "original_index": self.original_index}


@dataclass
class _Watch:
    outcome: JobOutcome
    detail: dict  # the latest DescribeJobs view of the watched job
    parent_id: str | None
    queue: str
    created_ms: int
    recovered_detail: dict | None = None
    last_status: str | None = None


class RecoveryTracker:
    """Follows every job that was RUNNING on the interrupted instances until it runs again.

    Args:
        batch: a boto3 Batch client.
        jobs_by_instance: ``{instance id: [JobDetail, ...]}`` as
            :func:`spotkit.chaos.workload.running_jobs_by_instance` returns it, taken before the
            interruption (array children individually).
        native_retry: True to prove the job definition's retryStrategy, False the resubmit function.
        injected_at: ``clock()`` value when the interruption was injected (seconds).
        clock: monotonic seconds; run_started_at: ``clock()`` value the events' ``t`` counts from
            (default ``injected_at``).
        fallback_job_queue / fallback_after_losses: the function's ``SPOTKIT_FALLBACK_JOB_QUEUE`` and
            ``SPOTKIT_FALLBACK_AFTER_LOSSES`` (successors are looked for in the fallback queue too).

    Attributes:
        outcomes: one :class:`JobOutcome` per watched job, in the order given.
        events: ``{"t": seconds since run_started_at, "at": ISO-8601 UTC, "subject": "job:<id>",
            "kind": "FAILED" | "resubmitted" | "retried" | "RUNNING-again" | "SUCCEEDED" | "problem",
            "detail": str}``, appended as things are seen.
    """

    def __init__(self, batch: Any, jobs_by_instance: dict[str, list[dict]], *, native_retry: bool,
                 injected_at: float, clock: Callable[[], float] = time.monotonic,
                 run_started_at: float | None = None, fallback_job_queue: str | None = None,
                 fallback_after_losses: int | None = None):
        self.batch = batch
        self.native_retry = native_retry
        self.injected_at = injected_at
        self.clock = clock
        self.run_started_at = injected_at if run_started_at is None else run_started_at
        self.fallback_job_queue = fallback_job_queue
        self.fallback_after_losses = fallback_after_losses
        self.events: list[dict] = []
        self.outcomes: list[JobOutcome] = []
        self._watches: list[_Watch] = []
        self._parents: dict[str, dict] = {}
        self._successors: dict[str, dict] = {}  # every successor ever seen, by job id
        for instance_id, details in jobs_by_instance.items():
            self.watch(instance_id, details)

    def watch(self, instance_id: str, details: list[dict]) -> list[JobOutcome]:
        """Also watch ``details`` (JobDetails RUNNING on ``instance_id``), e.g. jobs Batch placed on
        a target after the targets were chosen; jobs already watched are skipped. Returns the new
        outcomes (appended to :attr:`outcomes`)."""
        seen = {w.outcome.job_id for w in self._watches}
        added = []
        for d in details:
            if d["jobId"] in seen:
                continue
            seen.add(d["jobId"])
            job = JobDetail(d)
            try:
                original_index = original_array_index(job)
            except ValueError:
                original_index = job.array_index
            outcome = JobOutcome(job_id=d["jobId"], job_name=d.get("jobName", ""), array_index=job.array_index,
                                 instance_id=instance_id, attempts_before=len(d.get("attempts") or []),
                                 original_index=original_index)
            self.outcomes.append(outcome)
            added.append(outcome)
            self._watches.append(_Watch(outcome, d, job.array_parent_id, d.get("jobQueue", ""),
                                        int(d.get("createdAt") or 0), last_status=d.get("status")))
        return added

    def watched(self, job_id: str) -> bool:
        """True when ``job_id`` is one of the watched jobs."""
        return any(w.outcome.job_id == job_id for w in self._watches)

    # ------------------------------------------------------------------ bookkeeping
    def _since(self, start: float) -> float:
        return round(self.clock() - start, 1)

    def _event(self, job_id: str, kind: str, detail: str) -> None:
        self.events.append({"t": self._since(self.run_started_at),
                            "at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                            "subject": f"job:{job_id}", "kind": kind, "detail": detail})

    def _problem(self, w: _Watch, message: str) -> None:
        if message in w.outcome.problems:
            return
        w.outcome.problems.append(message)
        w.outcome.state = STATE_PROBLEM
        self._event(w.outcome.job_id, "problem", message)

    def done(self) -> bool:
        """True when every outcome is ``running-again`` or ``problem``."""
        return all(o.state in FINAL_STATES for o in self.outcomes)

    # ------------------------------------------------------------------ the poll
    def poll(self) -> bool:
        """One refresh: DescribeJobs (<= 100 ids per call) of every watched job, parent and recovered
        job, then one successor lookup per (queue, job name); advances every outcome.

        Returns:
            True when every outcome is ``running-again`` or ``problem`` (:meth:`done`).

        Raises:
            botocore.exceptions.ClientError / BotoCoreError: a DescribeJobs or ListJobs call failed
                (nothing is concluded from a failed call; poll again).
        """
        ids = [w.outcome.job_id for w in self._watches if w.outcome.state != STATE_PROBLEM]
        ids += [p for p in {w.parent_id for w in self._watches if w.parent_id} if p not in self._parents]
        ids += [w.outcome.recovered_job_id for w in self._watches
                if w.outcome.state == STATE_RECOVERED and w.outcome.recovered_job_id]
        details = describe_jobs(self.batch, ids) if ids else {}
        for pid in {w.parent_id for w in self._watches if w.parent_id}:
            if pid in details:
                self._parents[pid] = details[pid]
        for w in self._watches:
            if w.outcome.job_id in details:
                w.detail = details[w.outcome.job_id]
        for w in self._watches:  # every failure first: a regroup's other indexes are judged by them
            if w.outcome.state == STATE_WAITING_FAILURE:
                self._check_failure(w)
        found = self._lookup_successors()
        for w in self._watches:
            if w.outcome.state in (STATE_FAILED_ON_HOST, STATE_RECOVERED, STATE_RUNNING_AGAIN):
                self._check_recovery(w, found, details)
        return self.done()

    def _tags_of(self, w: _Watch) -> dict:
        """The watched job's tags; an array child's are its parent's (Batch copies none onto children)."""
        own = w.detail.get("tags") or {}
        if w.parent_id and not lineage.user_tags(own) and not (set(own) & set(lineage.LINEAGE_TAG_KEYS)):
            return dict((self._parents.get(w.parent_id) or {}).get("tags") or {})
        return dict(own)

    def _lookup_queues(self, w: _Watch) -> list[str]:
        queues = [w.queue]
        if self.fallback_job_queue and not same_queue(self.fallback_job_queue, w.queue):
            queues.append(self.fallback_job_queue)
        return queues

    def _lookup_successors(self) -> dict[str, dict]:
        """Every successor of any watched job or parent seen so far (this poll's lookups + memory)."""
        groups: dict[tuple[str, str], tuple[int, set[str]]] = {}
        for w in self._watches:
            if w.outcome.state in (STATE_WAITING_FAILURE, STATE_PROBLEM):
                continue
            for queue in self._lookup_queues(w):
                key = (queue, w.outcome.job_name)
                since, prev = groups.get(key, (w.created_ms, set()))
                prev |= {w.outcome.job_id, *([w.parent_id] if w.parent_id else [])}
                groups[key] = (min(since, w.created_ms), prev)
        for (queue, name), (since, prev) in groups.items():
            for d in find_successors(self.batch, job_queue=queue, job_name=name, since_ms=since,
                                     previous_job_ids=prev):
                self._successors[d["jobId"]] = d
        return self._successors

    # ------------------------------------------------------------------ failure
    def _check_failure(self, w: _Watch) -> None:
        o, job = w.outcome, w.detail
        status = job.get("status")
        reasons = [a.get("statusReason") or "" for a in (job.get("attempts") or [])[o.attempts_before:]]
        if status == "FAILED":
            reasons.append(job.get("statusReason") or "")
        for reason in reasons:
            hit = host_terminated_instance(reason)
            if hit == o.instance_id:
                o.state, o.failure_reason = STATE_FAILED_ON_HOST, reason
                o.seconds_to_failure = self._since(self.injected_at)
                self._event(o.job_id, "FAILED", reason)
                if not self.native_retry and status != "FAILED":
                    self._problem(w, f"job {o.job_id} was retried by its retryStrategy ({job.get('retryStrategy')}), "
                                     "so the resubmission function was not exercised; prove native retry or "
                                     "submit with attempts=1")
                return
            if hit:
                self._event(o.job_id, "FAILED", reason)
                self._problem(w, f"job {o.job_id} lost host {hit}, not the interrupted instance {o.instance_id}")
                return
        if any(reasons):
            self._event(o.job_id, "FAILED", reasons[-1])
            self._problem(w, f"job {o.job_id} failed for another reason: {reasons[-1]!r} "
                             f"(expected 'Host EC2 (instance {o.instance_id}) terminated.')")
        elif status == "SUCCEEDED":
            self._event(o.job_id, "SUCCEEDED", "before its host went away")
            self._problem(w, f"job {o.job_id} SUCCEEDED before its host went away (probe too short?)")

    # ------------------------------------------------------------------ recovery
    def _check_recovery(self, w: _Watch, found: dict[str, dict], details: dict[str, dict]) -> None:
        o = w.outcome
        covers = self._covers(w, found)
        if covers is None:  # a problem was recorded
            return
        o.successors = len(covers)
        if self.native_retry:
            if covers:
                self._problem(w, f"job {o.job_id} was retried natively AND resubmitted as "
                                 f"{', '.join(c[0] for c in covers)}: recovered twice")
                return
            self._check_native(w)
            return
        if o.state == STATE_RUNNING_AGAIN and len(covers) <= 1:
            return
        if len(covers) > 1:
            self._problem(w, f"duplicate: {self._what(w)} was resubmitted {len(covers)} times "
                             f"({', '.join(c[0] for c in covers)})")
            return
        if not covers:
            return  # not listed yet (ListJobs is eventually consistent): look again next poll
        recovered_id, successor, original = covers[0]
        if o.state == STATE_FAILED_ON_HOST:
            problems = check_resubmission(original, successor, fallback_job_queue=self.fallback_job_queue,
                                          fallback_after_losses=self.fallback_after_losses)
            if problems:
                self._problem(w, f"resubmission {successor['jobId']} of {self._what(w)} does not match: "
                                 + "; ".join(problems))
                return
            o.state, o.recovery, o.recovered_job_id = STATE_RECOVERED, RECOVERY_RESUBMITTED, recovered_id
            o.seconds_to_recovery = self._since(self.injected_at)
            self._event(o.job_id, "resubmitted", f"as {recovered_id} (queue {successor.get('jobQueue')})")
        rec = details.get(recovered_id)
        if rec is None and recovered_id == successor["jobId"]:
            rec = successor
        if rec is not None:
            self._advance_recovered(w, rec)

    def _what(self, w: _Watch) -> str:
        o = w.outcome
        if w.parent_id is not None:
            return f"original index {o.original_index} of array job {w.parent_id}"
        return f"job {o.job_id}"

    def _covers(self, w: _Watch, found: dict[str, dict]) -> list[tuple[str, dict, dict]] | None:
        """``[(recovered job id, successor JobDetail, original to compare with)]`` of the successors
        that rerun the watched job; None after recording a problem, or when a regroup cannot be
        judged yet (one of the other indexes it maps is a watched child whose failure is not seen yet).

        A regroup (array successor of the watched child's parent) may only map original indexes whose
        children were watched and failed on their interrupted host; any other index (a child still
        RUNNING elsewhere, never on a target, or that ended otherwise) runs twice: a problem."""
        o = w.outcome
        tags = self._tags_of(w)
        me = {**w.detail, "tags": tags}
        covers = []
        for sid, d in sorted(found.items()):
            prev = lineage.previous_job_id(d.get("tags") or {}, container_environment(d))
            env = container_environment(d)
            is_array = (d.get("arrayProperties") or {}).get("size") is not None
            if prev == o.job_id:
                if is_array:
                    self._problem(w, f"{sid} replaces {o.job_id} but is an array job")
                    return None
                if w.parent_id is not None and env.get(ARRAY_INDEX_ENV) != str(o.original_index):
                    self._problem(w, f"{sid} replaces child {o.job_id} but its {ARRAY_INDEX_ENV}="
                                     f"{env.get(ARRAY_INDEX_ENV)!r}, expected {o.original_index}")
                    return None
                covers.append((sid, d, me))
            elif w.parent_id is not None and prev == w.parent_id:
                if not is_array or ARRAY_INDEX_MAP_ENV not in env:
                    self._problem(w, f"the array parent {w.parent_id} itself was resubmitted as {sid} "
                                     "(expected only regroups of its reclaimed children)")
                    return None
                try:
                    mapping = decode_index_map(env[ARRAY_INDEX_MAP_ENV])
                except ValueError as exc:
                    self._problem(w, f"{sid}: unreadable {ARRAY_INDEX_MAP_ENV}: {exc}")
                    return None
                if o.original_index not in mapping:
                    continue
                others = self._not_lost(w.parent_id, [i for i in mapping if i != o.original_index])
                if others is None:
                    return None  # a sibling's failure is not seen yet: judge this regroup next poll
                if others:
                    self._problem(w, f"regroup {sid} of array job {w.parent_id} also reruns " + "; ".join(
                        f"original index {i}, whose child was not lost on an interrupted instance ({why})"
                        for i, why in others) + ": a duplicate run")
                    return None
                parent_view = {**me, "jobId": w.parent_id}
                covers += [(f"{sid}:{i}", d, parent_view) for i, orig in enumerate(mapping) if orig == o.original_index]
        return covers

    def _not_lost(self, parent_id: str, indexes: list[int]) -> list[tuple[int, str]] | None:
        """Of the original ``indexes`` a regroup of ``parent_id`` maps, those whose child was not
        watched and lost on its interrupted host, with why: ``[(index, reason)]``; None when one of
        them is watched but its failure not seen yet (decide later)."""
        by_index = {w.outcome.original_index: w for w in self._watches if w.parent_id == parent_id}
        bad, undecided = [], False
        for i in dict.fromkeys(indexes):
            w = by_index.get(i)
            if w is None:
                bad.append((i, "it was not running on an interrupted instance"))
            elif w.outcome.failure_reason is not None:
                continue  # it failed 'Host EC2 (instance <its target>) terminated.'
            elif w.outcome.state == STATE_WAITING_FAILURE:
                undecided = True
            else:
                bad.append((i, f"{w.outcome.job_id} is {w.detail.get('status')}"))
        if bad:
            return bad
        return None if undecided else []

    def _check_native(self, w: _Watch) -> None:
        o, job = w.outcome, w.detail
        status = job.get("status")
        attempts = len(job.get("attempts") or [])
        if status in ("FAILED", "SUCCEEDED") and o.state != STATE_RUNNING_AGAIN:
            if o.state == STATE_RECOVERED and status == "SUCCEEDED":
                self._running_again(w, "SUCCEEDED")
                return
            self._problem(w, f"job {o.job_id} was not retried natively: it ended {status} after {attempts} "
                             f"attempt(s) (retryStrategy {job.get('retryStrategy')}): "
                             f"{job.get('statusReason') or 'no statusReason'}")
            return
        if attempts <= o.attempts_before or status not in ACTIVE_JOB_STATUSES:
            return
        if o.state == STATE_FAILED_ON_HOST:
            o.state, o.recovery, o.recovered_job_id = STATE_RECOVERED, RECOVERY_NATIVE, o.job_id
            o.seconds_to_recovery = self._since(self.injected_at)
            self._event(o.job_id, "retried", f"attempt {attempts + 1} ({status})")
        if o.state == STATE_RECOVERED and status == "RUNNING":
            self._running_again(w, "RUNNING")

    def _advance_recovered(self, w: _Watch, rec: dict) -> None:
        o = w.outcome
        status = rec.get("status")
        if o.state != STATE_RECOVERED:
            return
        if status in ("RUNNING", "SUCCEEDED"):
            self._running_again(w, status)
        elif status == "FAILED":
            self._problem(w, f"recovered job {o.recovered_job_id} FAILED before RUNNING: "
                             f"{rec.get('statusReason') or 'no statusReason'}")

    def _running_again(self, w: _Watch, status: str) -> None:
        o = w.outcome
        o.state = STATE_RUNNING_AGAIN
        o.seconds_to_running = self._since(self.injected_at)
        self._event(o.job_id, "RUNNING-again", f"{o.recovered_job_id} is {status}")
        if status == "SUCCEEDED":
            self._event(o.recovered_job_id or o.job_id, "SUCCEEDED", "the recovered job finished")

    # ------------------------------------------------------------------ the end
    def expire(self) -> None:
        """The caller's timeout passed: every outcome not yet final becomes a problem saying what it
        was still waiting for (``no successor after N s`` etc., N = seconds since ``injected_at``)."""
        n = self._since(self.injected_at)
        for w in self._watches:
            o = w.outcome
            if o.state == STATE_WAITING_FAILURE:
                self._problem(w, f"no 'Host EC2 (instance {o.instance_id}) terminated.' failure after {n:g} s")
            elif o.state == STATE_FAILED_ON_HOST:
                what = "new attempt" if self.native_retry else "successor"
                self._problem(w, f"no {what} after {n:g} s")
            elif o.state == STATE_RECOVERED:
                self._problem(w, f"recovered job {o.recovered_job_id} not RUNNING after {n:g} s")

    def summary(self) -> dict[str, Any]:
        """``{"jobs": n, "passed": n, "problems": ["job <id>: <problem>", ...], "states": {state: n}}``."""
        states: dict[str, int] = {}
        for o in self.outcomes:
            states[o.state] = states.get(o.state, 0) + 1
        return {"jobs": len(self.outcomes), "passed": sum(o.passed() for o in self.outcomes),
                "problems": [f"job {o.job_id}: {p}" for o in self.outcomes for p in o.problems],
                "states": states}
