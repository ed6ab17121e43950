"""The exceptions of ``spotkit chaos``."""

from __future__ import annotations


class ChaosUsageError(Exception):
    """The experiment refuses to start; nothing was changed (prod without consent or stop condition,
    a compute environment that did not opt in, leftover state, missing outputs, a method the compute
    environment cannot take). The CLI exits 2."""


class ExperimentFailed(Exception):
    """A probe's tolerance was not met; the message is the report's ``failure_reason``."""


class ExperimentInterrupted(BaseException):
    """SIGTERM/SIGHUP arrived; raised in the main thread so that every rollback still runs."""
