"""Chaos experiments for spotkit: interrupt Spot capacity under running jobs and prove they come back.

``spotkit chaos spot`` runs :class:`~spotkit.chaos.runner.Runner` with a method from
:mod:`spotkit.chaos.methods` (``fis-spot-interruption``, ``fleet-capacity``, ``terminate-instance``);
``spotkit chaos rollback`` runs :func:`~spotkit.chaos.rollback.rollback`. Layout: ``guard`` (refusals),
``probes`` (read-only AWS probes), ``methods/`` (one module per injection method), ``journal``
(activities and events), ``runner`` (the experiment and its rollbacks), ``state`` (the undo list on
disk), ``workload`` (probe jobs), ``verify`` (recovery tracking), ``report``.
"""

from spotkit.chaos.config import ExperimentConfig  # noqa: F401
from spotkit.chaos.errors import ChaosUsageError  # noqa: F401
from spotkit.chaos.rollback import rollback  # noqa: F401
from spotkit.chaos.runner import Runner  # noqa: F401
from spotkit.chaos.verify import host_terminated_instance  # noqa: F401
