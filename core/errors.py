"""The base of every error a user can act on, and the one way an error becomes a message.

Adapters (CLI, bot, window) show ``user_message(error)``: for a ``VoxdeskError`` its message and,
when present, its hint (what to do about it). Anything that is not a ``VoxdeskError`` is a bug and
is logged with its traceback. Whatever is shown has its secrets taken out: an error may quote a
server, and a server may quote the key it was sent.
"""

from voxdesk.core.logs import redact


class VoxdeskError(Exception):
    """An error with a message written for the user and an optional hint on how to fix it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def describe(self) -> str:
        """The message and the hint as one line, without secrets."""
        message = str(self)
        return redact(f"{message} {self.hint}" if self.hint else message)


def user_message(error: BaseException) -> str:
    """What to show anyone for ``error``: one line, every secret (registered, or shaped like a
    key, a bearer token or a URL's password) redacted."""
    if isinstance(error, VoxdeskError):
        return error.describe()
    return redact(str(error) or type(error).__name__)
