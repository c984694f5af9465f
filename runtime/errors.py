"""Errors the runtime reports to its users.

Every failure a user can cause (bad archive, bad limit, unknown image, ...)
is a ``TerrariumError`` whose message is one line; the CLI prints it as
``error: <message>`` and exits 1, the dashboard shows it beside the form.
"""


class TerrariumError(Exception):
    """A failure with a one-line message meant for the user."""


class NotFound(TerrariumError):
    """An image or container that does not exist."""


class Conflict(TerrariumError):
    """A name already taken, an image in use, a container in the wrong state."""


class InvalidArgument(TerrariumError):
    """A malformed value: a limit, a name, a hostname, an environment line."""


class ImportFailed(TerrariumError):
    """An archive that is corrupt, hostile, or over a limit."""


class NotPermitted(TerrariumError):
    """The operation needs root or a kernel feature that is missing."""
