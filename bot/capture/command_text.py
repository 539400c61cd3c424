"""Reading the text typed after /cx-alarm or /cx-idea."""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPTION = re.compile(r"^--?[A-Za-z][\w-]*$")
_HELP_WORDS = {"help", "-h", "--help", "?", "usage"}


@dataclass(frozen=True)
class OpenModal:
    pass


@dataclass(frozen=True)
class ShowHelp:
    unknown: str | None = None


@dataclass(frozen=True)
class FileNow:
    text: str


CommandIntent = OpenModal | ShowHelp | FileNow


def read_command_text(text: str) -> CommandIntent:
    """No text opens the form; `help` shows usage; an option-like first word (`--list`) is an
    unknown subcommand and also shows usage; anything else is filed exactly as typed."""
    stripped = text.strip()
    if not stripped:
        return OpenModal()
    first_word = stripped.split(maxsplit=1)[0]
    if stripped.casefold() in _HELP_WORDS:
        return ShowHelp()
    if _OPTION.match(first_word):
        return ShowHelp(unknown=first_word)
    return FileNow(text=text)
