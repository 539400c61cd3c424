import pytest

from bot.capture.command_text import FileNow, OpenModal, ShowHelp, read_command_text


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_no_text_opens_the_form(text: str) -> None:
    assert read_command_text(text) == OpenModal()


@pytest.mark.parametrize("text", ["help", " HELP ", "--help", "-h", "?"])
def test_help(text: str) -> None:
    assert read_command_text(text) == ShowHelp()


def test_unknown_option_shows_usage_naming_it() -> None:
    assert read_command_text("--list all") == ShowHelp(unknown="--list")


def test_anything_else_is_filed() -> None:
    assert read_command_text("  help desk was rude  ") == FileNow(text="  help desk was rude  ")
    assert read_command_text("-5% discount not applied") == FileNow(text="-5% discount not applied")
