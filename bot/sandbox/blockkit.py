"""Block Kit JSON, as cxbot sends it to Slack, drawn as HTML for the sandbox's page.

Everything is server-rendered; the page's little JavaScript reads data attributes to send the
payloads Slack would send (the contract is below). Every piece of
text goes through `html.escape`: what people typed never becomes markup.

The data-attribute contract:

- every block: `data-bk-block` (its type) and `data-block-id` (its block_id; `bk-<n>`, its position,
  when it has none, as Slack would make one up).
- every interactive element: `data-bk-element` (its type), `data-action-id`, `data-block-id` (its
  block's), and `data-bk-in-input="true"` inside an input block (where Slack sends no block_actions
  unless the block has `dispatch_action`, then `data-dispatch-action="true"`).
- button: `data-value`, `data-style`, `data-url` when set, and `data-text`, the JSON of its text
  object, for the payload's `text`.
- every option (in `<option>` or on a radio or checkbox `<input>`): `value` and `data-option`, the
  JSON of the option object as sent, for `selected_option(s)`.
- elements that hold state in `view.state.values` say which key: `data-bk-state` is `value`
  (plain_text_input: the control's value, null when empty), `selected_option` (static_select: the
  chosen `<option>`'s `data-option`; radio_buttons: the checked input's), `selected_options`
  (checkboxes: every checked input's), `selected_user` or `selected_conversation` (the `<select>`'s
  value, null when empty). The state is then
  `{block_id: {action_id: {"type": data-bk-element, <data-bk-state>: ...}}}`.
- a modal is a `<form data-bk-view="modal">` with `data-callback-id`, `data-private-metadata`,
  `data-view-id` (when the view JSON has an `id`) and `data-external-id`; its buttons carry
  `data-bk-view-submit` and `data-bk-view-close`. App Home is `<div data-bk-view="home">`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from bot.sandbox.mrkdwn import Names, mrkdwn_to_html, plain_to_html, safe_url

Json = Mapping[str, Any]


class UnsupportedBlockKit(ValueError):
    """A block, element, text object or view this renderer can't draw (raised in strict mode)."""


@dataclass(frozen=True)
class Context:
    """What rendering knows beyond the JSON.

    `names`: user, channel and user group IDs to what to show; users (U…, W…) and conversations
    (C…, G…) in it are also what users_select and conversations_select offer. `tz` is the reader's
    time zone for dates (None: the sender's fallback text); `now` makes "today" of a pretty date.
    `files` maps slack_file IDs to URLs the page serves. `strict` raises `UnsupportedBlockKit` on
    anything unknown instead of drawing a visible "unsupported" marker.
    """

    names: Mapping[str, str] = field(default_factory=dict)
    tz: tzinfo | None = None
    now: datetime | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    strict: bool = False

    @property
    def mrkdwn_names(self) -> Names:
        return Names(names=self.names, tz=self.tz, now=self.now)


@dataclass(frozen=True)
class _Slot:
    """Where an element sits: its block's ID, and whether that block is an input."""

    block_id: str
    in_input: bool = False
    dispatch: bool = False


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _attrs(values: Mapping[str, object | None]) -> str:
    """HTML attributes, escaped; None leaves one out and True writes a bare one (`selected`)."""
    return "".join(
        f" {name}" if value is True else f' {name}="{_e(value)}"'
        for name, value in values.items()
        if value is not None and value is not False
    )


def _json_attr(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _unsupported(kind: str, type_: object, ctx: Context) -> str:
    if ctx.strict:
        raise UnsupportedBlockKit(f"the sandbox can't draw the {kind} type {type_!r}")
    return (
        f'<div class="bk-unsupported" data-bk-unsupported="{_e(kind)}:{_e(type_)}">'
        f"unsupported {_e(kind)}: {_e(type_)}</div>"
    )


# Text objects


def render_text(obj: Json | None, ctx: Context) -> str:
    """A mrkdwn or plain_text object as HTML (empty for None)."""
    if obj is None:
        return ""
    kind = obj.get("type")
    text = str(obj.get("text", ""))
    if kind == "mrkdwn":
        return mrkdwn_to_html(text, ctx.mrkdwn_names, verbatim=bool(obj.get("verbatim", False)))
    if kind == "plain_text":
        return plain_to_html(text, emoji_codes=bool(obj.get("emoji", True)))
    return _unsupported("text object", kind, ctx)


def _label(obj: Json | None) -> str:
    """A text object as the plain words an `<option>` or attribute can hold."""
    return _e(obj.get("text", "")) if obj else ""


# Elements


def _root(element: Json, slot: _Slot, state: str | None = None) -> dict[str, object | None]:
    return {
        "data-bk-element": element.get("type"),
        "data-action-id": element.get("action_id"),
        "data-block-id": slot.block_id,
        "data-bk-state": state,
        "data-bk-in-input": "true" if slot.in_input else None,
        "data-dispatch-action": "true" if slot.dispatch else None,
    }


def _button(element: Json, slot: _Slot, ctx: Context) -> str:
    style = element.get("style")
    url = safe_url(str(element["url"])) if element.get("url") else None
    attrs = {
        **_root(element, slot),
        "data-value": element.get("value"),
        "data-style": style,
        "data-url": url,
        "data-text": _json_attr(element.get("text", {})),
    }
    classes = "bk-button" + (f" bk-button-{_e(style)}" if style else "")
    text = render_text(element.get("text"), ctx)
    return f'<button type="button" class="{classes}"{_attrs(attrs)}>{text}</button>'


def _option(option: Json, chosen: set[str]) -> str:
    value = str(option.get("value", ""))
    attrs = {"value": value, "data-option": _json_attr(option), "selected": True if value in chosen else None}
    return f"<option{_attrs(attrs)}>{_label(option.get('text'))}</option>"


def _options(element: Json, chosen: set[str]) -> str:
    out = [_option(option, chosen) for option in element.get("options") or []]
    for group in element.get("option_groups") or []:
        inner = "".join(_option(option, chosen) for option in group.get("options") or [])
        out.append(f'<optgroup label="{_label(group.get("label"))}">{inner}</optgroup>')
    return "".join(out)


def _placeholder(element: Json, default: str, chosen: bool) -> str:
    text = _label(element.get("placeholder")) or default
    selected = "" if chosen else " selected"
    return f'<option value="" data-bk-placeholder="true"{selected}>{text}</option>'


def _static_select(element: Json, slot: _Slot, ctx: Context) -> str:
    initial = element.get("initial_option")
    chosen = {str(initial.get("value"))} if initial else set()
    attrs = _root(element, slot, "selected_option")
    body = _placeholder(element, "Select an item", bool(chosen)) + _options(element, chosen)
    return f'<select class="bk-select"{_attrs(attrs)}>{body}</select>'


def _overflow(element: Json, slot: _Slot, ctx: Context) -> str:
    attrs = {**_root(element, slot), "aria-label": "More actions"}
    first = '<option value="" data-bk-placeholder="true" selected disabled>\u22ef</option>'
    return f'<select class="bk-overflow"{_attrs(attrs)}>{first}{_options(element, set())}</select>'


def _directory(ctx: Context, prefixes: tuple[str, ...], initial: str | None) -> list[tuple[str, str]]:
    found = {slack_id: name for slack_id, name in ctx.names.items() if slack_id.startswith(prefixes)}
    if initial and initial not in found:
        found[initial] = initial
    return sorted(found.items(), key=lambda pair: (pair[1].lower(), pair[0]))


def _picker(element: Json, slot: _Slot, ctx: Context, *, state: str, initial: str | None, sign: str) -> str:
    prefixes = ("U", "W") if state == "selected_user" else ("C", "G")
    entries = _directory(ctx, prefixes, initial)
    options = "".join(
        f"<option{_attrs({'value': slack_id, 'selected': True if slack_id == initial else None})}>"
        f"{sign}{_e(name)}</option>"
        for slack_id, name in entries
    )
    attrs = _root(element, slot, state)
    if element.get("filter"):
        attrs["data-filter"] = _json_attr(element["filter"])
    default = "Select a person" if sign == "@" else "Select a channel"
    body = _placeholder(element, default, initial is not None) + options
    return f'<select class="bk-select bk-picker"{_attrs(attrs)}>{body}</select>'


def _users_select(element: Json, slot: _Slot, ctx: Context) -> str:
    initial = element.get("initial_user")
    return _picker(element, slot, ctx, state="selected_user", initial=initial, sign="@")


def _conversations_select(element: Json, slot: _Slot, ctx: Context) -> str:
    initial = element.get("initial_conversation")
    return _picker(element, slot, ctx, state="selected_conversation", initial=initial, sign="#")


def _choices(element: Json, slot: _Slot, ctx: Context, *, kind: str, chosen: set[str]) -> str:
    name = f"{slot.block_id}.{element.get('action_id', '')}"
    out = []
    for option in element.get("options") or []:
        value = str(option.get("value", ""))
        attrs = {
            "type": kind,
            "name": name,
            "value": value,
            "data-option": _json_attr(option),
            "checked": True if value in chosen else None,
        }
        description = option.get("description")
        about = (
            f'<span class="bk-choice-description">{render_text(description, ctx)}</span>'
            if description
            else ""
        )
        text = f'<span class="bk-choice-text">{render_text(option.get("text"), ctx)}</span>'
        out.append(f'<label class="bk-choice"><input{_attrs(attrs)}>{text}{about}</label>')
    return "".join(out)


def _radio_buttons(element: Json, slot: _Slot, ctx: Context) -> str:
    initial = element.get("initial_option")
    chosen = {str(initial.get("value"))} if initial else set()
    attrs = _root(element, slot, "selected_option")
    body = _choices(element, slot, ctx, kind="radio", chosen=chosen)
    return f'<fieldset class="bk-radios"{_attrs(attrs)}>{body}</fieldset>'


def _checkboxes(element: Json, slot: _Slot, ctx: Context) -> str:
    chosen = {str(option.get("value")) for option in element.get("initial_options") or []}
    attrs = _root(element, slot, "selected_options")
    body = _choices(element, slot, ctx, kind="checkbox", chosen=chosen)
    return f'<fieldset class="bk-checkboxes"{_attrs(attrs)}>{body}</fieldset>'


def _plain_text_input(element: Json, slot: _Slot, ctx: Context) -> str:
    attrs = {
        **_root(element, slot, "value"),
        "placeholder": element["placeholder"].get("text") if element.get("placeholder") else None,
        "maxlength": element.get("max_length"),
        "minlength": element.get("min_length"),
    }
    initial = element.get("initial_value") or ""
    if element.get("multiline"):
        return f'<textarea class="bk-text-input" rows="4"{_attrs(attrs)}>{_e(initial)}</textarea>'
    attrs["value"] = initial or None
    return f'<input type="text" class="bk-text-input"{_attrs(attrs)}>'


def image_src(obj: Json, ctx: Context) -> str | None:
    """Where an image block or element's picture is: `image_url`, or `slack_file` by url or ID."""
    url = obj.get("image_url")
    if url is None and isinstance(obj.get("slack_file"), Mapping):
        slack_file = obj["slack_file"]
        url = slack_file.get("url") or ctx.files.get(str(slack_file.get("id", "")))
    if not isinstance(url, str):
        return None
    if url.startswith("/") and not url.startswith("//"):
        return url  # served by the page itself
    safe = safe_url(url)
    return safe if safe and safe.lower().startswith(("http://", "https://")) else None


def _image_element(element: Json, slot: _Slot, ctx: Context) -> str:
    attrs = {"class": "bk-image-element", "src": image_src(element, ctx), "alt": element.get("alt_text", "")}
    return f"<img{_attrs(attrs)}>"


_Renderer = Callable[[Json, _Slot, Context], str]
_ELEMENTS: Mapping[str, _Renderer] = {
    "button": _button,
    "overflow": _overflow,
    "static_select": _static_select,
    "users_select": _users_select,
    "conversations_select": _conversations_select,
    "radio_buttons": _radio_buttons,
    "checkboxes": _checkboxes,
    "plain_text_input": _plain_text_input,
    "image": _image_element,
}
ELEMENT_TYPES = frozenset(_ELEMENTS)
TEXT_TYPES = frozenset({"mrkdwn", "plain_text"})


def render_element(element: Json, ctx: Context, *, block_id: str, in_input: bool = False) -> str:
    """One element, in the block `block_id` (an input block's when `in_input`)."""
    renderer = _ELEMENTS.get(str(element.get("type")))
    if renderer is None:
        return _unsupported("element", element.get("type"), ctx)
    return renderer(element, _Slot(block_id=block_id, in_input=in_input), ctx)


# Blocks


def _div(block: Json, block_id: str, inner: str) -> str:
    kind = _e(block.get("type"))
    attrs = {"data-bk-block": block.get("type"), "data-block-id": block_id}
    return f'<div class="bk-block bk-{kind}"{_attrs(attrs)}>{inner}</div>'


def _header(block: Json, block_id: str, ctx: Context) -> str:
    return _div(block, block_id, f'<h3 class="bk-header-text">{render_text(block.get("text"), ctx)}</h3>')


def _divider(block: Json, block_id: str, ctx: Context) -> str:
    return _div(block, block_id, '<hr class="bk-divider-line">')


def _section(block: Json, block_id: str, ctx: Context) -> str:
    main = ""
    if block.get("text"):
        main += f'<div class="bk-section-text">{render_text(block["text"], ctx)}</div>'
    if block.get("fields"):
        fields = "".join(f'<div class="bk-field">{render_text(item, ctx)}</div>' for item in block["fields"])
        main += f'<div class="bk-fields">{fields}</div>'
    inner = f'<div class="bk-section-main">{main}</div>'
    if block.get("accessory"):
        accessory = render_element(block["accessory"], ctx, block_id=block_id)
        inner += f'<div class="bk-accessory">{accessory}</div>'
    return _div(block, block_id, inner)


def _context_element(element: Json, block_id: str, ctx: Context) -> str:
    if element.get("type") in TEXT_TYPES:
        return f'<span class="bk-context-text">{render_text(element, ctx)}</span>'
    if element.get("type") == "image":
        return render_element(element, ctx, block_id=block_id)
    return _unsupported("context element", element.get("type"), ctx)


def _context(block: Json, block_id: str, ctx: Context) -> str:
    inner = "".join(_context_element(element, block_id, ctx) for element in block.get("elements") or [])
    return _div(block, block_id, inner)


def _actions(block: Json, block_id: str, ctx: Context) -> str:
    inner = "".join(
        render_element(element, ctx, block_id=block_id) for element in block.get("elements") or []
    )
    return _div(block, block_id, inner)


def _image(block: Json, block_id: str, ctx: Context) -> str:
    title = render_text(block.get("title"), ctx)
    caption = f'<figcaption class="bk-image-title">{title}</figcaption>' if title else ""
    attrs = {"class": "bk-image-picture", "src": image_src(block, ctx), "alt": block.get("alt_text", "")}
    inner = f"<figure>{caption}<img{_attrs(attrs)}></figure>"
    return _div(block, block_id, inner)


def _input(block: Json, block_id: str, ctx: Context) -> str:
    element = block.get("element") or {}
    renderer = _ELEMENTS.get(str(element.get("type")))
    slot = _Slot(block_id=block_id, in_input=True, dispatch=bool(block.get("dispatch_action")))
    drawn = renderer(element, slot, ctx) if renderer else _unsupported("element", element.get("type"), ctx)
    optional = '<span class="bk-optional"> (optional)</span>' if block.get("optional") else ""
    label = f'<div class="bk-label">{render_text(block.get("label"), ctx)}{optional}</div>'
    hint = f'<div class="bk-hint">{render_text(block["hint"], ctx)}</div>' if block.get("hint") else ""
    attrs = {
        "data-bk-block": "input",
        "data-block-id": block_id,
        "data-optional": "true" if block.get("optional") else "false",
    }
    return f'<div class="bk-block bk-input"{_attrs(attrs)}>{label}{drawn}{hint}</div>'


_BLOCKS: Mapping[str, Callable[[Json, str, Context], str]] = {
    "header": _header,
    "section": _section,
    "context": _context,
    "divider": _divider,
    "actions": _actions,
    "image": _image,
    "input": _input,
}
BLOCK_TYPES = frozenset(_BLOCKS)
VIEW_TYPES = frozenset({"modal", "home"})


def render_block(block: Json, ctx: Context, *, index: int = 0) -> str:
    renderer = _BLOCKS.get(str(block.get("type")))
    if renderer is None:
        return _unsupported("block", block.get("type"), ctx)
    return renderer(block, str(block.get("block_id") or f"bk-{index}"), ctx)


def render_blocks(blocks: Sequence[Json], ctx: Context) -> str:
    return "".join(render_block(block, ctx, index=index) for index, block in enumerate(blocks))


# Views and messages


def render_view(view: Json, ctx: Context) -> str:
    """A modal (a form with its title, close and submit) or App Home."""
    kind = view.get("type")
    blocks = f'<div class="bk-view-blocks">{render_blocks(view.get("blocks") or [], ctx)}</div>'
    ids = {"data-view-id": view.get("id"), "data-external-id": view.get("external_id")}
    if kind == "home":
        return f'<div class="bk-view bk-home"{_attrs({"data-bk-view": "home", **ids})}>{blocks}</div>'
    if kind != "modal":
        return _unsupported("view", kind, ctx)
    attrs = {
        "data-bk-view": "modal",
        "data-callback-id": view.get("callback_id", ""),
        "data-private-metadata": view.get("private_metadata", ""),
        **ids,
    }
    title = f'<header class="bk-view-title">{render_text(view.get("title"), ctx)}</header>'
    close = render_text(view.get("close"), ctx) or "Cancel"
    buttons = f'<button type="button" class="bk-button" data-bk-view-close="true">{close}</button>'
    if view.get("submit"):
        submit = render_text(view["submit"], ctx)
        buttons += (
            '<button type="submit" class="bk-button bk-button-primary" data-bk-view-submit="true">'
            f"{submit}</button>"
        )
    footer = f'<footer class="bk-view-footer">{buttons}</footer>'
    return f'<form class="bk-view bk-modal"{_attrs(attrs)}>{title}{blocks}{footer}</form>'


def render_message(message: Json, ctx: Context) -> str:
    """A message as chat.postMessage gets it: its blocks, or its text when it has none."""
    blocks = message.get("blocks")
    text = str(message.get("text") or "")
    if blocks:
        body = render_blocks(blocks, ctx)
    elif message.get("mrkdwn", True):
        body = f'<div class="bk-message-text">{mrkdwn_to_html(text, ctx.mrkdwn_names)}</div>'
    else:
        body = f'<div class="bk-message-text">{plain_to_html(text)}</div>'
    attrs = {"class": "bk-message", "data-ts": message.get("ts"), "data-thread-ts": message.get("thread_ts")}
    return f"<div{_attrs(attrs)}>{body}</div>"
