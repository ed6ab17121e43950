"""Chaos experiments for spotkit: cut Spot capacity under a running job and prove it comes back.

``spotkit chaos spot`` runs :class:`~spotkit.chaos.experiment.SpotExperiment`; ``spotkit chaos rollback``
runs :func:`~spotkit.chaos.rollback.rollback`. See :mod:`spotkit.chaos.experiment` for the
steady-state hypothesis, method and rollbacks.
"""

from spotkit.chaos.experiment import (  # noqa: F401
    ChaosUsageError,
    ExperimentConfig,
    SpotExperiment,
    host_terminated_instance,
)
from spotkit.chaos.rollback import rollback  # noqa: F401
