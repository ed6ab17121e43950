"""``spotkit bench``: benchmarks of the Spot-loss resubmission pipeline on the local emulator.

Modules: :mod:`.cli` (the command), :mod:`.stage` (a bench emulator of its own, the Batch-on-Spot
stack and the rule -> SQS -> event source mapping -> function pipeline, built with boto3 as
``modules/spot-resubmit`` builds it), :mod:`.scenarios` (burst, array), :mod:`.coldstart` (the
cold start: import + the first record, against a local moto server), :mod:`.report`
(``reports/bench-latest.json`` and the table).
"""
