"""spotkit's decision core: which failed job comes back, how, and with what lineage.

Pure Python (standard library only, no AWS calls), so one source of truth serves the resubmit
function (``spotkit package`` vendors this package into its zip), ``spotkit classify``, the chaos
experiment and the benchmarks. The stages that call AWS live in ``functions/resubmit``.

Modules, in the order the function uses them:

* :mod:`spotkit.core.job`       -- typed views of a "Batch Job State Change" event and of a
  DescribeJobs ``JobDetail`` (parse stage);
* :mod:`spotkit.core.classify`  -- does a statusReason mean the host was reclaimed?
* :mod:`spotkit.core.lineage`   -- a job's place in its resubmission chain, read from and written to
  ONE tag (``spotkit:lineage``) so that a job with 49 user tags still fits AWS's 50-tag limit;
* :mod:`spotkit.core.config`    -- the function's ``SPOTKIT_*`` settings;
* :mod:`spotkit.core.decide`    -- classify + lineage + budget + target queue -> a typed verdict;
* :mod:`spotkit.core.submit`    -- SubmitJob requests (single and regrouped array jobs) within the
  SubmitJob API reference's limits;
* :mod:`spotkit.core.indexmap`  -- the array index map codec (the same one :mod:`spotkit.runtime`
  gives job code).
"""
