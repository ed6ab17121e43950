"""The injection methods of ``spotkit chaos spot``: one module per method, found by this registry.

Adding a method is adding a module here that defines:

* ``NAME`` (the ``--method`` value), ``SUMMARY`` (one line for ``--help`` and the plan),
  ``FIS_STOP_CONDITION`` (True when AWS FIS itself enforces the stop-condition alarm; otherwise the
  runner watches ``chaos_stop_condition_alarm_arn`` between polls);
* ``refusal(ce, outputs, config) -> str | None``: why the method cannot run on this compute environment;
* ``stop_condition(ctx) -> str | None``: the stop-condition alarm that guards a run (prod needs one);
* ``plan(ctx) -> {"targets": str, "actions": [str], "rollbacks": [str]}`` (read-only calls only);
* ``choose_targets(ctx, candidates, preferred, count) -> [instance id]``;
* ``inject(ctx, targets) -> dict``: the action(s); each writes its undo entry with
  ``ctx.state.add_undo`` BEFORE the call it undoes;
* ``observe(ctx) -> None``: called between polls after the injection (journal events);
* ``on_interrupted(ctx) -> None``: called once every target is shutting down or terminated;
* ``expected_delay(ctx) -> float``: seconds between the injection and the interruption;
* ``UNDO``: ``{undo kind: fn(entry, client, *, timeout, poll_interval, clock, sleep) -> (ok, detail)}``,
  idempotent (``client`` is ``service -> boto3 client``).
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable

from rich.console import Console

from spotkit.chaos.config import ExperimentConfig, Outputs
from spotkit.chaos.errors import ChaosUsageError
from spotkit.chaos.journal import Journal
from spotkit.chaos.probes import ComputeEnvironment

DEFAULT_SPOT_METHOD = "fis-spot-interruption"


@dataclass
class MethodContext:
    """What a method works with. ``state`` is None in a dry run (nothing may be written)."""

    config: ExperimentConfig
    outputs: Outputs
    ce: ComputeEnvironment
    run_id: str
    client: Callable[[str], object]  # service -> boto3 client
    journal: Journal = None  # type: ignore[assignment]
    state: object = None  # spotkit.chaos.state.StateWriter | None
    time_scale: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    data: dict = field(default_factory=dict)  # the method's own scratch (ids it created, flags)

    def __post_init__(self):
        if self.journal is None:
            self.journal = Journal(self.clock, Console(quiet=True))


def _discover() -> dict:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[module.NAME] = module
    return dict(sorted(found.items()))


def names() -> list:
    """Every method name (``--method`` choices)."""
    return list(REGISTRY)


def get(name: str) -> ModuleType:
    """The method module called ``name``.

    Raises:
        ChaosUsageError: no such method.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise ChaosUsageError(f"unknown method {name!r}; choose one of {', '.join(REGISTRY)}") from None


def default_for(ce: ComputeEnvironment) -> str:
    """The default method of a compute environment: ``fis-spot-interruption`` for every Spot CE.

    Raises:
        ChaosUsageError: the compute environment is not a Spot one (nothing to interrupt by default).
    """
    if ce.spot:
        return DEFAULT_SPOT_METHOD
    raise ChaosUsageError(
        f"compute environment {ce.name} is {ce.resource_type or 'UNMANAGED'}, not SPOT: there is no Spot "
        "capacity to interrupt; pass --method terminate-instance to terminate its instances instead"
    )


def undo_handlers() -> dict:
    """``{undo kind: handler}`` over every method."""
    handlers = {}
    for module in REGISTRY.values():
        handlers.update(getattr(module, "UNDO", {}))
    return handlers


def choose_targets(ctx: MethodContext, candidates: list, preferred: list, count: int) -> list:
    """The default target choice: ``count`` instance ids out of ``candidates`` (running instances of
    the compute environment), those in ``preferred`` (under the probe jobs, most probe jobs first)
    first."""
    ids = [c.instance_id for c in candidates]
    ordered = [i for i in preferred if i in ids] + [i for i in ids if i not in preferred]
    return ordered[:count]


def runner_watched_alarm(ctx: MethodContext) -> str | None:
    """``stop_condition`` of the methods FIS does not guard: the alarm output the runner watches."""
    arn = ctx.outputs.chaos_stop_condition_alarm_arn
    return f"{arn} (watched by the runner between polls)" if arn else None


#: ``{name: module}``; built last so the method modules can import the helpers above.
REGISTRY: dict = _discover()
