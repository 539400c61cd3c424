"""`cxbot try` in a real browser: Debian's chromium, driven by Playwright, walks issue 22's five
steps through the page as people would, clicking and typing. It skips, saying why, where Playwright
or chromium isn't installed (a laptop); `.ci/run` installs both and sets CXBOT_REQUIRE_BROWSER, so
in CI it runs. With CXBOT_SCREENSHOTS=DIR it saves the README's two screenshots there."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.serve import running

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("CXBOT_REQUIRE_BROWSER") == "1"
SCREENSHOTS = os.environ.get("CXBOT_SCREENSHOTS")


def _why_not() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright isn't installed (pip install playwright)"
    if CHROMIUM is None:
        return "no chromium on PATH (apt-get install chromium)"
    return None


@pytest.fixture
def address() -> Iterator[str]:
    reason = _why_not()
    if reason is not None:
        if REQUIRED:
            pytest.fail(f"CXBOT_REQUIRE_BROWSER is set, but {reason}")
        pytest.skip(reason)
    with running() as (sandbox, address):
        yield address
        sandbox.fake.assert_no_violations()


def test_the_walk_in_chromium(address: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(20_000)
        page.goto(address)
        main = page.locator("#main")

        def be(user: str) -> None:
            page.select_option("#person", user)

        def go(channel: str) -> None:
            page.locator(f'a.go[data-channel="{channel}"]').click()

        def say(text: str) -> None:
            page.fill("#say", text)
            page.press("#say", "Enter")

        # 1. The employee raises an alarm; it is confirmed with a link, only to her.
        say("/cx-alarm The refund page shows a blank screen")
        expect(main).to_contain_text("Only visible to you")
        main.get_by_role("link", name="See it in the channel").click()  # the card, in the page
        expect(page.locator('a.go.chosen[data-channel="C0123ABCD"]')).to_be_visible()
        go("C0GENERAL")

        # 2. The owner finds the card in billing and replies in its thread: acknowledged.
        be("U0123ABCD")
        go("C0123ABCD")
        expect(main).to_contain_text("The refund page shows a blank screen")
        main.locator("a.open-thread").first.click()
        say("On it, checking the CDN")
        expect(page.locator("#thread")).to_contain_text("On it, checking the CDN")
        expect(main).to_contain_text("Acknowledged")
        be("U0ANA")
        go("D0ANA")
        expect(main).to_contain_text("acknowledged")

        # 3. Mark actioned, through its form: the kudos post names the employee.
        be("U0123ABCD")
        go("C0123ABCD")
        main.locator('[data-action-id="item_mark_actioned"]').first.click()
        modal = page.locator("#modal")
        expect(modal).to_contain_text("What was done?")
        modal.locator('[data-action-id="what_was_done"]').fill("Fixed the CDN rule that blanked the page")
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / "try-card.png"))
        modal.locator("[data-bk-view-submit]").click()
        expect(modal).to_be_hidden()
        go("C0KUDOS")
        expect(main).to_contain_text("@Ana")

        # 4. A week passes: the digest is in the digest channel.
        page.locator('button[data-advance="week"]').click()
        expect(page.locator("#status")).to_contain_text("the weekly digest")
        go("C0DIGEST")
        expect(main).to_contain_text("Weekly CX digest")
        main.locator("a.open-thread", has_text="1 reply").click()  # its chart, in its thread
        expect(page.locator("#thread img")).to_be_visible()
        if SCREENSHOTS:
            page.screenshot(path=str(Path(SCREENSHOTS) / "try-digest.png"))

        # 5. A bare /cx-alarm opens the form; submitting it files the item.
        be("U0ANA")
        go("C0GENERAL")
        say("/cx-alarm")
        expect(modal).to_contain_text("What happened?")
        modal.locator('[data-action-id="what_happened"]').fill("The parking barrier is stuck again")
        modal.locator("[data-bk-view-submit]").click()
        expect(modal).to_be_hidden()
        be("U0CLEO")
        go("C0TRIAGE")
        expect(main).to_contain_text("The parking barrier is stuck again")
        browser.close()
