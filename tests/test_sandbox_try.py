"""`cxbot try` over HTTP, as the page uses it: the walk of issue 22 (file an alarm, the owner
acknowledges it in its thread, marks it actioned through the form, a week passes and the digest
comes, a bare /cx-alarm opens the form that files one), each step read back from the panels each
person sees. The same walk in a real browser: tests/test_try_browser.py."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.sandbox import EMPLOYEE, LEAD, OWNER, Sandbox
from bot.sandbox.serve import running
from bot.sandbox.workspace import dm_channel

ANA, BEN = EMPLOYEE.user_id, OWNER.user_id
BILLING, GENERAL = "C0123ABCD", "C0GENERAL"


class Page:
    def __init__(self, url: str, sandbox: Sandbox) -> None:
        self.url, self.sandbox = url, sandbox

    def post(self, verb: str, **body: Any) -> Any:
        request = urllib.request.Request(f"{self.url}/api/{verb}", data=json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=15) as answer:
            return json.loads(answer.read())

    def panel(self, user: str, channel: str, thread: str = "") -> dict[str, Any]:
        query = urllib.parse.urlencode({"user": user, "channel": channel, "thread": thread})
        with urllib.request.urlopen(f"{self.url}/panel?{query}", timeout=15) as answer:
            return dict(json.loads(answer.read()))

    def until(self, check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"waited {timeout} s for {what}")


@pytest.fixture
def page() -> Iterator[Page]:
    with running() as (sandbox, address):
        yield Page(address, sandbox)
        sandbox.fake.assert_no_violations()


def test_the_walk_of_issue_22_over_http(page: Page) -> None:
    # 1. As the employee, an alarm is confirmed with a link, only to her.
    page.post("compose", user=ANA, channel=GENERAL, text="/cx-alarm The refund page shows a blank screen")
    mine = page.until(lambda: "#1" in page.panel(ANA, GENERAL)["main"], "Ana's confirmation")
    assert mine and "Only visible to you" in page.panel(ANA, GENERAL)["main"]
    assert "#1" not in page.panel(BEN, GENERAL)["main"]

    # 2. As the owner, the card is in billing; a reply in its thread acknowledges it, and Ana hears.
    card = page.until(lambda: page.sandbox.workspace.messages(BILLING, viewer=BEN), "the card")[0]
    assert "The refund page shows a blank screen" in page.panel(BEN, BILLING)["main"]
    page.post("compose", user=BEN, channel=BILLING, text="On it, checking the CDN", thread=card.ts)
    page.until(lambda: "acknowledged" in page.panel(ANA, dm_channel(ANA))["main"], "Ana's DM")
    assert "On it, checking the CDN" in page.panel(BEN, BILLING, thread=card.ts)["thread"]

    # 3. Mark actioned, through its form: the kudos post names the employee.
    action = {"type": "button", "action_id": "item_mark_actioned", "block_id": f"item_actions_{card.ts}",
              "value": "1", "text": {"type": "plain_text", "text": "Mark actioned"}}  # fmt: skip
    page.post("click", user=BEN, channel=BILLING, ts=card.ts, action=action)
    modal = page.until(lambda: page.sandbox.workspace.modal(BEN), "the Mark actioned form")
    assert modal.view["callback_id"] == "cx_mark_actioned"
    values = {
        "what_was_done": {"what_was_done": {"type": "plain_text_input", "value": "Fixed the CDN rule"}},
        "led_to_action": {
            "led_to_action": {
                "type": "radio_buttons",
                "selected_option": {"text": {"type": "plain_text", "text": "Yes"}, "value": "yes"},
            }
        },
    }
    assert page.post("submit", user=BEN, view_id=modal.view_id, values=values)["errors"] is None
    page.until(lambda: "Thank you" in page.panel(ANA, "C0KUDOS")["main"], "the kudos post")
    assert "@Ana" in page.panel(ANA, "C0KUDOS")["main"]
    assert page.sandbox.workspace.modal(BEN) is None

    # 4. A week later, the digest is in the digest channel.
    ran = page.post("advance", user=LEAD.user_id, by="week")["ran"]
    assert "the weekly digest" in ran
    page.until(lambda: "Weekly CX digest" in page.panel(LEAD.user_id, "C0DIGEST")["main"], "the digest")
    # Its chart follows in its thread, and the page serves the image.
    digest = page.sandbox.workspace.messages("C0DIGEST", viewer=LEAD.user_id)[0]
    page.until(
        lambda: "/files/F" in page.panel(LEAD.user_id, "C0DIGEST", thread=digest.ts)["thread"], "the chart"
    )
    [chart] = page.sandbox.fake.uploads
    with urllib.request.urlopen(f"{page.url}/files/{chart}", timeout=15) as answer:
        assert answer.headers["Content-Type"] == "image/png" and answer.read().startswith(b"\x89PNG")

    # 5. A bare /cx-alarm opens the form; submitting it files the item.
    page.post("compose", user=ANA, channel=GENERAL, text="/cx-alarm")
    form = page.until(lambda: page.sandbox.workspace.modal(ANA), "the filing form")
    assert form.view["callback_id"] == "cx_file_alarm" and "bk-view" in page.panel(ANA, GENERAL)["modal"]
    filing = {
        "what_happened": {"what_happened": {"type": "plain_text_input", "value": "Parking barrier stuck"}},
        "customers": {"customers": {"type": "plain_text_input", "value": None}},
        "journey_stage": {"journey_stage": {"type": "static_select", "selected_option": None}},
        "severity": {"severity": {"type": "static_select", "selected_option": None}},
        "area": {"area": {"type": "static_select", "selected_option": None}},
        "anonymous": {"anonymous": {"type": "checkboxes", "selected_options": []}},
    }
    page.post("submit", user=ANA, view_id=form.view_id, values=filing)
    page.until(
        lambda: "Parking barrier stuck" in page.panel(LEAD.user_id, "C0TRIAGE")["main"], "the grey area"
    )


def test_each_person_sees_their_own_app_home_and_the_clock_moves(page: Page) -> None:
    before = page.panel(ANA, GENERAL)["clock"]
    page.post("home", user=BEN, channel="home")
    page.until(lambda: "bk-view" in page.panel(BEN, "home")["main"], "Ben's App Home")
    assert "Opening App Home" in page.panel(ANA, "home")["main"]
    assert page.post("advance", user=ANA, by="day")["ok"] and page.panel(ANA, GENERAL)["clock"] != before
    assert "cxbot (DM)" in page.panel(ANA, GENERAL)["rail"]


def test_the_sandbox_routes_are_the_shipped_example() -> None:
    """`cxbot try` routes by the example routes file README starts from (a copy ships in the
    package, where an installed cxbot finds it)."""
    from bot.sandbox.sandbox import ROUTES_FILE

    example = Path(__file__).resolve().parents[1] / "routes.example.toml"
    assert ROUTES_FILE.read_text(encoding="utf-8") == example.read_text(encoding="utf-8")


def test_cxbot_try_refuses_a_real_workspaces_database(tmp_path: Path, routes_file: Path) -> None:
    """DATABASE_URL from a .env beside a real deployment: cxbot try moves time on and replaces
    routes, so it says so and changes nothing."""
    from bot.routing.routes_file import import_routes_file
    from bot.sandbox.sandbox import NotASandboxDatabase
    from storage.db import make_engine
    from storage.schema import migrate

    url = f"sqlite:///{tmp_path}/real.db"
    engine = make_engine(url)
    migrate(engine)
    import_routes_file(engine, routes_file, clock=lambda: datetime.now(UTC))  # C0BILLING, C0ONBOARD
    engine.dispose()
    with pytest.raises(NotASandboxDatabase, match="C0BILLING"):
        Sandbox(database_url=url).start()
