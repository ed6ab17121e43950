"""``spotkit bench``: benchmarks of the Spot-loss resubmission pipeline on the local emulator.

Modules: :mod:`.cli` (the command), :mod:`.stage` (a bench emulator of its own, the Batch-on-Spot
stack and the rule -> SQS -> event source mapping -> function pipeline, built with boto3 as
``modules/spot-resubmit`` builds it), :mod:`.scenarios` (burst, array, cold import),
:mod:`.report` (``reports/bench-latest.json`` and the table).
"""
