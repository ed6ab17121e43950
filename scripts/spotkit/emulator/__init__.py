"""TEST STAGE ONLY -- the local AWS emulator. Nothing in here is deployed or used against AWS.

spotkit's product is modules/ (Terraform), functions/ (Lambda sources) and the rest of the
``spotkit`` package. This subpackage is the stage they are proven on when no AWS account is at
hand: a moto server (https://docs.getmoto.org) on ``127.0.0.1:4566`` extended, in the same
process, with the Batch-on-Spot behaviour moto lacks:

* ``capacity``  -- managed compute environments get capacity that follows demand: a ``maintain``
  Spot Fleet for a SPOT CE with BEST_FIT (or unset) allocation strategy, an EC2 Auto Scaling group
  (Batch's ``Batch-lt`` launch template, MixedInstancesPolicy, health-check replacement) for every
  other managed CE -- SPOT with BEST_FIT_PROGRESSIVE / SPOT_CAPACITY_OPTIMIZED /
  SPOT_PRICE_CAPACITY_OPTIMIZED, and EC2 (on-demand) CEs; every instance registered as an ECS
  container instance of the CE's cluster.
* ``jobs``      -- the job state machine (SUBMITTED → PENDING → RUNNABLE → STARTING → RUNNING →
  SUCCEEDED/FAILED); jobs really run as local processes; host loss, timeouts, native retry.
* ``events``    -- "Batch Job State Change" events on the default bus; rules delivered to Lambda
  targets (the deployed zip, run in a subprocess) and SQS targets, with retries and DLQs.
* ``esm``       -- SQS event source mappings: poll, invoke with a batch, delete what succeeded
  (partial batch responses), leave the rest for redrive.
* ``throttle``  -- SubmitJob throttling (token bucket, default 50/s) answered with
  ``TooManyRequestsException`` like AWS.
* ``retry``     -- the native retry rules (attempts, evaluateOnExit).
* ``fis``       -- AWS FIS experiments that act: validated templates, target resolution, Spot
  interruption warnings and rebalance recommendations on the default bus, interruptions and
  terminations, stop conditions, ``AWS::FIS::ExperimentTemplate`` in CloudFormation.
* ``patches``   -- the narrow hooks into moto's backends that make the above possible.
* ``server`` / ``cli`` -- ``spotkit local up|down|status``.

Each behaviour names the AWS documentation page it follows in its docstring.
"""

from __future__ import annotations

from typing import Optional

#: The path the emulator answers :func:`info` on (spotkit.emulator.server.InfoApp).
INFO_PATH = "/_spotkit/info"


def info(endpoint: str, timeout: float = 2.0) -> Optional[dict]:
    """What the spotkit emulator at ``endpoint`` runs with, or None when ``endpoint`` is not one
    (no answer, not JSON, or not ours -- a real AWS endpoint or a plain moto server).

    One HTTP GET of ``<endpoint>/_spotkit/info`` (``timeout`` seconds). Returns at least
    ``{"spotkit_emulator": True, "fis_time_scale": F, "time_scale": T, "iam": "enforce" | "off"}``
    plus ``region``, ``account`` and ``execution``. ``fis_time_scale`` multiplies every AWS FIS wait
    (a report on a chaos run must state it); ``time_scale`` multiplies attempt timeouts. Never raises.
    """
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + INFO_PATH, timeout=timeout) as response:
            if response.status != 200:
                return None
            data = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("spotkit_emulator") is not True:
        return None
    return data
