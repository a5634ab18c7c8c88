"""The base of every error a user can act on.

Adapters (CLI, bot, window) show ``str(error)`` and, when present, ``error.hint``: what to do
about it. Anything that is not a ``VoxdeskError`` is a bug and is logged with its traceback.
"""


class VoxdeskError(Exception):
    """An error with a message written for the user and an optional hint on how to fix it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def describe(self) -> str:
        """The message and the hint as one line."""
        message = str(self)
        return f"{message} {self.hint}" if self.hint else message
