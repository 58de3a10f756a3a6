"""The SDK's exceptions."""

from __future__ import annotations

__all__ = ["ApiError", "StreamError"]


class ApiError(Exception):
    """An error reply from the server: its HTTP status and stable error code.

    Over the WebSocket the status is the one REST would answer for the same code.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class StreamError(Exception):
    """The stream ended for good: closed by the server with a code that says "do not
    retry" (4400 protocol error, 4003 origin refused), or closed by the program."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"stream closed ({code}): {reason}" if code else reason)
        self.code = code
        self.reason = reason
