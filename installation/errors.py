"""User-facing errors.

Anything the user can fix (a bad file, a bad TOML key, a shader typo) raises a
:class:`UserError` whose message is one line naming the file and the key or line. The CLI
prints that line and exits with status 2, without a traceback. Programming errors stay
ordinary exceptions so they keep their traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix; ``str(error)`` is a single line meant for them."""

    def __init__(self, message: str) -> None:
        # A multi-line message would break the one-line promise; fold it here once.
        super().__init__(" ".join(str(message).split()))


class ShowError(UserError):
    """``show.toml`` is missing, malformed or holds an invalid value."""


class RecordingError(UserError):
    """A recording is missing, unreadable, malformed or lacks a stream the show needs."""


class ShaderError(UserError):
    """A shader file is missing, has a bad ``#include``, or fails to compile or link."""


class ModelError(UserError):
    """A generator model or checkpoint cannot be built or loaded."""


class StreamDataError(UserError):
    """Samples of a stream that a stage could not process; the message names the stream."""
