"""Domain errors: each carries a kind message for the person who caused it."""

from __future__ import annotations


class CxError(Exception):
    """An error whose message is fit to show the user as it is."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class InvalidSubmission(CxError):
    """The raiser's input can't be filed; `field` names the modal input to flag, if any."""

    def __init__(self, user_message: str, *, field: str | None = None) -> None:
        super().__init__(user_message)
        self.field = field


def first_line(error: BaseException) -> str:
    """The first line of an error's message (a database error's driver message, without
    SQLAlchemy's statement dump), or its type's name if it has none: for one-line reports."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
