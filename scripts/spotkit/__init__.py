"""spotkit: AWS Batch on EC2 Spot that comes back by itself.

Subpackages and modules:

* ``spotkit.core``       -- the decision core (classification, lineage, budget, SubmitJob requests):
  standard library only, vendored into the resubmit function's zip, shared with the CLI, chaos
  and bench.
* ``spotkit.runtime``    -- inside a job container: the original array index after a resubmission.
* ``spotkit.cli``        -- the ``spotkit`` command (``--help`` on every subcommand).
* ``spotkit.toolchain``  -- offline Terraform + hashicorp/aws provider mirror (``spotkit setup``).
* ``spotkit.envs``       -- renders terraform/<env>/ from settings.yaml with jinja2.
* ``spotkit.tf``         -- runs Terraform for an environment.
* ``spotkit.package``    -- deterministic Lambda zips from functions/.
* ``spotkit.chaos``      -- the Spot capacity-cut experiment and its rollback.
* ``spotkit.emulator``   -- TEST STAGE ONLY: the local AWS emulator (moto + Batch-on-Spot data plane).
"""

__version__ = "0.1.0"
