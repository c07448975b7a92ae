"""The one exception hierarchy of prefect-quantum.

Every error the package raises on purpose is a :class:`PrefectQuantumError`. Its two
branches tell a caller (and Prefect's ``retry_condition_fn``) what to do:

- :class:`TransientError`: the same request may succeed later (device offline, lease lost,
  store busy). Worth a retry with backoff.
- :class:`PermanentError`: retrying cannot help (bad input, circuit too wide, compliance).
"""

from __future__ import annotations


class PrefectQuantumError(Exception):
    """Base class of every error raised by prefect-quantum."""


class TransientError(PrefectQuantumError):
    """A failure that may go away on its own; retrying is sensible."""


class PermanentError(PrefectQuantumError):
    """A failure that retrying cannot fix."""


class InvalidInputError(PermanentError, ValueError):
    """An input is malformed or out of range; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class CircuitTooWideError(InvalidInputError):
    """A circuit needs more qubits than any eligible device has."""


class UnknownDeviceError(InvalidInputError):
    """A device name is not part of the fleet."""


class ComplianceError(PermanentError):
    """A job would run on a device not authorized for its compliance domain."""


class AccessDeniedError(PermanentError):
    """A tenant asked for a job, checkpoint or record that is not its own, or to act as
    another tenant ([T3]); the message names the job and the asking tenant only."""


class AuthenticationError(AccessDeniedError):
    """Unknown tenant, wrong secret, or credentials missing where the store needs them
    ([T2]); the message never says which."""


class JobCancelledError(PermanentError):
    """The job was cancelled ([T5]); resume it to run it again."""


class DeviceOfflineError(TransientError):
    """The device went offline before or during execution."""


class NoEligibleDeviceError(TransientError):
    """No device passed the calibration check for this job right now."""


class LeaseLostError(TransientError):
    """The job's lease expired or was revoked while it was running."""


class StoreBusyError(TransientError):
    """The scheduler store could not be reached or was locked for too long."""


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` is worth retrying."""
    return isinstance(exc, TransientError)
