"""TEST STAGE ONLY -- the local AWS emulator. Nothing in here is deployed or used against AWS.

spotkit's product is modules/ (Terraform), functions/ (Lambda sources) and the rest of the
``spotkit`` package. This subpackage is the stage they are proven on when no AWS account is at
hand: a moto server (https://docs.getmoto.org) on ``127.0.0.1:4566`` extended, in the same
process, with the Batch-on-Spot behaviour moto lacks:

* ``capacity``  -- managed compute environments get capacity that follows demand: a ``maintain``
  Spot Fleet for a SPOT CE with BEST_FIT (or unset) allocation strategy, plain instances for an
  EC2 CE; every instance registered as an ECS container instance of the CE's cluster.
* ``jobs``      -- the job state machine (SUBMITTED → PENDING → RUNNABLE → STARTING → RUNNING →
  SUCCEEDED/FAILED); jobs really run as local processes; host loss, timeouts, native retry.
* ``events``    -- "Batch Job State Change" events on the default bus; rules delivered to Lambda
  targets (the deployed zip, run in a subprocess) and SQS targets, with retries and DLQs.
* ``esm``       -- SQS event source mappings: poll, invoke with a batch, delete what succeeded
  (partial batch responses), leave the rest for redrive.
* ``throttle``  -- SubmitJob throttling (token bucket, default 50/s) answered with
  ``TooManyRequestsException`` like AWS.
* ``retry``     -- the native retry rules (attempts, evaluateOnExit).
* ``patches``   -- the narrow hooks into moto's backends that make the above possible.
* ``server`` / ``cli`` -- ``spotkit local up|down|status``.

Each behaviour names the AWS documentation page it follows in its docstring.
"""
