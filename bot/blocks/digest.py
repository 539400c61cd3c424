"""The weekly digest, rendered: what needs a leader this week, then the numbers (flow, speed,
whether the loop closes), what is stuck, grey areas, and credit."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.blocks import labels
from bot.blocks.nags import age
from bot.blocks.replies import Reply
from bot.blocks.text import preview
from storage.figures import Digest, Loop, Speed, Window
from storage.models import ItemKind, JourneyStage


def digest_reply(digest: Digest, *, zone: str) -> Reply:
    tz = ZoneInfo(zone)
    start, end = digest.start.astimezone(tz), digest.end.astimezone(tz)
    span = f"{start:%a %d %b %H:%M} to {end:%a %d %b %Y %H:%M}"
    blocks: list[Block] = [
        HeaderBlock(text="Weekly CX digest"),
        _context(f"{span} ({zone}), compared with the week before."),
        _section(_headline(digest)),
        DividerBlock(),
        _section(_flow_table(digest.this_week, digest.last_week)),
        _section(_speed_lines(digest.this_week, digest.last_week)),
        _section(_loop(digest.loop)),
        _section(_verification(digest)),
        DividerBlock(),
        _section(_stuck(digest)),
        _section(_grey(digest)),
        _section(_breakdown("By area", [(area or "grey area", r, a) for area, r, a in digest.by_area])),
        _section(_breakdown("By journey stage", [(_stage(value), r, a) for value, r, a in digest.by_stage])),
        DividerBlock(),
        _section(_credits(digest)),
        _section(_ideas(digest)),
    ]
    this = digest.this_week.flow
    text = (
        f"Weekly CX digest, {span}: {this[ItemKind.ALARM].raised} alarms and "
        f"{this[ItemKind.IDEA].raised} ideas raised, {digest.past_sla} past their SLA."
    )
    return Reply(text=text, blocks=blocks)


def _headline(digest: Digest) -> str:
    """The lines bot/jobs/headline.py chose, most pressing first."""
    lines = [_HEADLINES[kind](digest) for kind in digest.headline]
    if not lines:
        return "*Nothing needs you this week*: nothing is past its SLA and every grey area has an owner."
    return "*This week*\n" + "\n".join(f"• {line}" for line in lines)


def _past_sla_line(digest: Digest) -> str:
    worst = digest.past_sla_by_area[0]
    area = worst.area or "grey-area"
    line = f"*{_count(worst.count, f'{area} item')} past their SLA*, oldest overdue {age(worst.oldest)}"
    if digest.past_sla > worst.count:
        line += f" ({digest.past_sla} in all)"
    return line


def _reopened_line(digest: Digest) -> str:
    reopened = digest.verification.reopened
    return f"*{_count(reopened, 'fix')} reopened by the raiser*: still happening, they say"


def _grey_line(digest: Digest) -> str:
    unowned = digest.grey_unowned
    them = "it" if unowned == 1 else "them"
    return f"*{_count(unowned, 'grey-area item')} still unowned*: route or claim {them}"


def _fix_line(digest: Digest) -> str:
    fix = digest.credited_fix
    assert fix is not None
    return f"{labels.mention(fix.raiser_id)}'s #{fix.item_id} “{preview(fix.text, 60)}” led to a fix :tada:"


def _count(n: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith(("x", "s")) else "s")
    return f"{n} {noun if n == 1 else plural}"


_HEADLINES = {
    "past_sla": _past_sla_line,
    "reopened": _reopened_line,
    "grey": _grey_line,
    "fix": _fix_line,
}


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%} ({part} of {whole})" if whole else "n/a"


def _loop(loop: Loop) -> str:
    """Whether raisers hear back, and whether alarms come from everyone."""
    return "\n".join(
        [
            "*Does the loop close?* (items raised this week)",
            f"Time until the raiser heard an outcome: {_speed(loop.heard)} (median / 90th percentile)",
            f"Heard within the SLA: {_share(loop.within_sla, loop.decided)}",
            f"Alarms raised from outside the owning team: {_share(loop.outside, loop.countable)}",
        ]
    )


def _delta(now: int, before: int) -> str:
    if now == before:
        return "same as last week"
    return f"{'+' if now > before else '-'}{abs(now - before)} vs last week"


def _flow_table(this: Window, last: Window) -> str:
    lines = ["*Flow*"]
    for kind, name in ((ItemKind.ALARM, "Alarms"), (ItemKind.IDEA, "Ideas")):
        now, before = this.flow[kind], last.flow[kind]
        parts = [
            f"{getattr(now, field)} {field} ({_delta(getattr(now, field), getattr(before, field))})"
            for field in ("raised", "acknowledged", "actioned", "declined")
        ]
        lines.append(f"{name}: " + " · ".join(parts))
    lines.append(
        f'People who spoke up: {this.people} ({_delta(this.people, last.people)}), "me too" included'
    )
    return "\n".join(lines)


def _duration(value: timedelta | None) -> str:
    return age(value) if value is not None else "n/a"


def _speed(speed: Speed) -> str:
    return f"{_duration(speed.median)} / {_duration(speed.p90)}"


def _speed_lines(this: Window, last: Window) -> str:
    return "\n".join(
        [
            "*Speed* (median / 90th percentile)",
            f"Time to acknowledge: {_speed(this.to_acknowledge)} (last week {_speed(last.to_acknowledge)})",
            f"Time to action: {_speed(this.to_action)} (last week {_speed(last.to_action)})",
        ]
    )


def _verification(digest: Digest) -> str:
    """What raisers said when asked whether the fix worked."""
    said = digest.verification
    if not said.settled:
        return (
            "*Did it fix it?* Nothing to report: no raiser answered this week, and no question "
            "went unanswered for 7 days."
        )
    items = f"{said.settled} actioned item{'s' if said.settled != 1 else ''}"
    return (
        f"*Did it fix it?* Raisers had their say on {items} this week: "
        f"*{said.fixed_share or 0:.0%} confirmed fixed* ({said.fixed}) · {said.reopened} reopened by the "
        f"raiser as still happening · {said.unconfirmed} unconfirmed (no answer within 7 days)"
    )


def _stuck(digest: Digest) -> str:
    lines = [f"*Past their SLA now: {digest.past_sla}*"]
    for item, due in digest.oldest_past_sla:
        lines.append(
            f"• #{item.id} {preview(item.text, 90)} · {item.area or 'grey area'} · "
            f"{labels.mentions(item.owner)} · overdue {age(digest.end - due)}"
        )
    if not digest.oldest_past_sla:
        lines.append("Nothing is overdue. :tada:")
    return "\n".join(lines)


def _grey(digest: Digest) -> str:
    return (
        f"*Grey areas*: {digest.grey_came_in} came in with no owner this week; "
        f"{digest.grey_resolved} found an owner; {digest.grey_unowned} still unowned."
    )


def _stage(value: str | None) -> str:
    return labels.STAGE[JourneyStage(value)] if value else "not given"


def _breakdown(title: str, rows: list[tuple[str, int, int]]) -> str:
    if not rows:
        return f"*{title}*: nothing this week."
    return f"*{title}* (raised / actioned)\n" + "\n".join(f"• {name}: {r} / {a}" for name, r, a in rows[:10])


def _credits(digest: Digest) -> str:
    if not digest.credited:
        return "*Thank you*: no alarms led to action this week."
    people = ", ".join(f"{labels.mention(entry.user_id)} ({entry.alarms})" for entry in digest.credited)
    return f"*Thank you* to the people whose alarms and ideas led to action: {people}"


def _ideas(digest: Digest) -> str:
    if not digest.top_ideas:
        return "*Top ideas*: no votes yet."
    lines = [
        f"• #{item.id} {preview(item.text, 90)}: {votes} vote{'s' if votes != 1 else ''}"
        for item, votes in digest.top_ideas
    ]
    return "*Top ideas by votes*\n" + "\n".join(lines)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:3000]))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])
