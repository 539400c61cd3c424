"""Claiming a grey area: the "I can own this" form, the request a CX lead answers in triage, what
the claimer hears, and the public thanks."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.blocks import labels
from bot.blocks.card import when
from bot.blocks.ids import Callback, ClaimAction, Field
from bot.blocks.replies import Reply
from bot.blocks.text import escape, preview
from storage.models import ClaimStatus, Item, RouteClaim

MAX_GROUP_OPTIONS = 100  # Slack's limit for a static select


def claim_modal(
    item: Item, *, claimer: str, keywords: Sequence[str], groups: Sequence[tuple[str, str]]
) -> View:
    """The form behind "I can own this". `groups` are (user group ID, its name) to offer as owner."""
    intro = (
        f"*{labels.KIND[item.kind]} #{item.id}*: {preview(item.text, 200)}\n"
        "No area fits this yet. Name the part of the customer experience it belongs to, and who "
        "will own it; a CX lead approves it, and you'll be thanked in public."
    )
    blocks: list[Block] = [
        ContextBlock(elements=[MarkdownTextObject(text=intro)]),
        InputBlock(
            block_id=Field.CLAIM_AREA,
            label="Name of the area",
            hint="What this part of the customer experience is called, like “Gift cards”.",
            element=PlainTextInputElement(
                action_id=Field.CLAIM_AREA, max_length=75, placeholder="Gift cards"
            ),
        ),
        InputBlock(
            block_id=Field.CLAIM_OWNER,
            label="Owner",
            element=UserSelectElement(action_id=Field.CLAIM_OWNER, initial_user=claimer),
        ),
    ]
    if groups:
        options = [Option(value=group_id, label=name[:75]) for group_id, name in groups[:MAX_GROUP_OPTIONS]]
        blocks.append(
            InputBlock(
                block_id=Field.CLAIM_GROUP,
                label="…or a user group",
                optional=True,
                hint="Pick a group to have the whole group own it instead of one person.",
                element=StaticSelectElement(
                    action_id=Field.CLAIM_GROUP, placeholder="Pick a group", options=options
                ),
            )
        )
    blocks += [
        InputBlock(
            block_id=Field.CLAIM_CHANNEL,
            label="Channel for its items",
            hint="cxbot posts this area's items here. For a private channel, /invite cxbot first.",
            element=ConversationSelectElement(
                action_id=Field.CLAIM_CHANNEL,
                placeholder="Pick a channel",
                filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
            ),
        ),
        InputBlock(
            block_id=Field.CLAIM_KEYWORDS,
            label="Keywords",
            hint="Separate them with commas. Later items with any of these words go straight to this area.",
            element=PlainTextInputElement(
                action_id=Field.CLAIM_KEYWORDS,
                max_length=1000,
                initial_value=", ".join(keywords) or None,
                placeholder="gift card, voucher",
            ),
        ),
    ]
    return View(
        type="modal",
        callback_id=Callback.CLAIM,
        title="I can own this",
        submit="Offer to own it",
        close="Cancel",
        private_metadata=str(item.id),
        blocks=blocks,
    )


def claim_note(text: str) -> View:
    """What the form turns into once it is sent: what happened, or why nothing could."""
    return View(
        type="modal",
        title="I can own this",
        close="Done",
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
    )


def claim_request(claim: RouteClaim, item: Item, *, permalink: str | None) -> Reply:
    """Posted in triage for the CX leads to answer."""
    head = f":raising_hand: *{labels.mention(claim.claimer)} offers to own a grey area*"
    buttons = [
        ButtonElement(text="Approve", action_id=ClaimAction.APPROVE, value=str(claim.id), style="primary"),
        ButtonElement(text="Not now", action_id=ClaimAction.NOT_NOW, value=str(claim.id)),
    ]
    return Reply(
        text=f"{labels.mention(claim.claimer)} offers to own a grey area: {claim.area}",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=head)),
            SectionBlock(fields=_claim_fields(claim)),
            _started_with(item, permalink),
            ActionsBlock(block_id=f"claim_{claim.id}", elements=buttons),
        ],
    )


def claim_decided(claim: RouteClaim, item: Item, *, permalink: str | None) -> Reply:
    """The request in triage once a CX lead answered it."""
    decided_by = labels.mention(claim.decided_by) if claim.decided_by else "a CX lead"
    at = f" {when(claim.decided_at)}" if claim.decided_at else ""
    if claim.status is ClaimStatus.APPROVED:
        head = f":white_check_mark: *{claim.area}* is an area now, owned by {labels.mention(claim.owner)}"
        said = f"Approved by {decided_by}{at}. Claimed by {labels.mention(claim.claimer)}."
    else:
        head = f":hourglass: *Not now* for {labels.mention(claim.claimer)}'s offer to own *{claim.area}*"
        said = f"{decided_by} said not now{at}."
    return Reply(
        text=f"{claim.area}: {_answer(claim)}",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=head)),
            SectionBlock(fields=_claim_fields(claim)),
            _started_with(item, permalink),
            ContextBlock(elements=[MarkdownTextObject(text=said)]),
        ],
    )


def claimer_news(claim: RouteClaim, item: Item, *, permalink: str | None) -> Reply:
    """The claimer hears a CX lead's answer."""
    lead = labels.mention(claim.decided_by) if claim.decided_by else "A CX lead"
    link = f" <{permalink}|Open #{item.id}>" if permalink else ""
    if claim.status is ClaimStatus.APPROVED:
        head = f":tada: *{claim.area}* is an area now, owned by {labels.mention(claim.owner)}."
        moved = item.route_id is not None and item.route_id == claim.route_id
        where = f"#{item.id} is in <#{claim.channel}>, and later" if moved else "Later"
        body = (
            f"{lead} approved your claim. {where} items that mention {_keyword_list(claim.keywords)} "
            "will go straight there. Thank you for owning it: that's how grey areas stop losing "
            f"customers.{link}"
        )
    else:
        head = f":pray: *Not now* for *{claim.area}*."
        body = (
            f"{lead} didn't make it an area yet, so #{item.id} stays in triage with the CX leads. "
            f"Thank you for offering: grey areas need exactly that. Ask {lead} what would make it work."
        )
    return Reply(
        text=f"Your claim of {claim.area}: {_answer(claim)}",
        blocks=[SectionBlock(text=MarkdownTextObject(text=f"{head}\n{body}"))],
    )


def claim_thanks(claim: RouteClaim, item: Item) -> Reply:
    """The public thanks: owning a grey area is what cxbot exists to reward."""
    who = labels.mention(claim.claimer)
    head = f":trophy: *Thank you, {who}, for owning a grey area!*"
    body = (
        f"*{claim.area}* was nobody's. Now items that mention {_keyword_list(claim.keywords)} go "
        f"straight to {labels.mention(claim.owner)} in <#{claim.channel}>, instead of waiting in triage."
    )
    started = f"It started with #{item.id}: “{preview(item.text, 160)}”"
    return Reply(
        text=f"Thank you, {who}, for owning {claim.area}",
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=head)),
            SectionBlock(text=MarkdownTextObject(text=body)),
            ContextBlock(elements=[MarkdownTextObject(text=started)]),
        ],
    )


def _answer(claim: RouteClaim) -> str:
    return "approved" if claim.status is ClaimStatus.APPROVED else "not now"


def _claim_fields(claim: RouteClaim) -> list[MarkdownTextObject]:
    pairs = [
        ("Area", claim.area),
        ("Owner", labels.mention(claim.owner)),
        ("Channel", f"<#{claim.channel}>"),
        ("Keywords", ", ".join(escape(word) for word in claim.keywords)),
    ]
    return [MarkdownTextObject(text=f"*{name}*\n{value}") for name, value in pairs]


def _started_with(item: Item, permalink: str | None) -> ContextBlock:
    link = f" · <{permalink}|Open the card>" if permalink else ""
    text = f"For {labels.KIND[item.kind]} #{item.id}: “{preview(item.text, 200)}”{link}"
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _keyword_list(keywords: Sequence[str]) -> str:
    quoted = [f"“{escape(word)}”" for word in keywords[:6]]
    more = f" (and {len(keywords) - 6} more)" if len(keywords) > 6 else ""
    if len(quoted) == 1:
        return quoted[0] + more
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] + more
