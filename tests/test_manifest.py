"""manifest.yaml and the code must agree, or the app Slack creates won't reach our listeners; and
manifest.yaml must be a manifest Slack accepts (tests/slack_spec/manifest.schema.1.0.0.json)."""

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from handlers.capture import Command, Shortcut
from handlers.digest import COMMAND as DIGEST_COMMAND

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load((ROOT / "manifest.yaml").read_text())
# Slack's JSON Schema for app manifests, vendored from slackapi/manifest-schema (see its README).
MANIFEST_SCHEMA = json.loads(
    (Path(__file__).parent / "slack_spec" / "manifest.schema.1.0.0.json").read_text(encoding="utf-8")
)


def test_every_command_and_shortcut_is_declared() -> None:
    commands = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert commands == {command.value for command in Command} | {DIGEST_COMMAND}
    shortcuts = {(s["type"], s["callback_id"]) for s in MANIFEST["features"]["shortcuts"]}
    assert shortcuts == {("message", shortcut.value) for shortcut in Shortcut}
    assert any(s["name"] == "Raise as CX alarm" for s in MANIFEST["features"]["shortcuts"])


def test_scopes_events_interactivity_and_socket_mode() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "im:write", "channels:history", "channels:join"} <= scopes
    settings = MANIFEST["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert {"message.channels", "app_home_opened"} <= set(settings["event_subscriptions"]["bot_events"])


def test_the_scopes_cxbot_doctor_checks_are_the_manifests() -> None:
    from bot.slack.health import REQUIRED_SCOPES

    assert sorted(REQUIRED_SCOPES) == sorted(MANIFEST["oauth_config"]["scopes"]["bot"])


def _manifest_validator() -> jsonschema.Draft7Validator:
    # The schema says it is draft-07: validate with that draft's rules, not the library's latest.
    assert MANIFEST_SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert jsonschema.validators.validator_for(MANIFEST_SCHEMA) is jsonschema.Draft7Validator
    jsonschema.Draft7Validator.check_schema(MANIFEST_SCHEMA)
    return jsonschema.Draft7Validator(
        MANIFEST_SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def test_manifest_schema_refs_all_resolve_within_the_schema() -> None:
    """Every $ref points inside the vendored file, so validation needs nothing fetched or beside it."""
    uri = "urn:slack:manifest.schema.1.0.0"
    resolver = Registry().with_resource(uri, Resource.from_contents(MANIFEST_SCHEMA, DRAFT7)).resolver(uri)
    refs = _refs(MANIFEST_SCHEMA)
    assert refs, "the schema has no $ref at all: is it the right file?"
    for ref in sorted(refs):
        assert ref.startswith("#/"), f"{ref} points outside tests/slack_spec/manifest.schema.1.0.0.json"
        assert isinstance(resolver.lookup(ref).contents, dict), ref


def test_manifest_is_valid_for_slack() -> None:
    errors = sorted(_manifest_validator().iter_errors(MANIFEST), key=lambda e: list(e.absolute_path))
    assert not errors, "manifest.yaml breaks Slack's manifest schema:\n" + "\n".join(
        f"  {error.json_path}: {error.message}" for error in errors
    )


def _set(manifest: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = manifest
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("settings", "socket_mode_enabled"), "yes", id="wrong-type-through-ref"),
        pytest.param(("settings", "interactivity", "is_enabled"), 1, id="wrong-type-nested-ref"),
        pytest.param(("display_information", "name"), "x" * 36, id="name-over-35-chars"),
        pytest.param(("oauth_config", "scopes", "bot"), "chat:write", id="scopes-not-a-list"),
        pytest.param(("features", "slash_commands", 0, "command"), 42, id="command-not-a-string"),
        pytest.param(("settings", "socket_mode"), True, id="unknown-settings-key"),
        pytest.param(("display_info",), {"name": "cxbot"}, id="unknown-top-level-key"),
    ],
)
def test_a_broken_manifest_fails_the_schema(path: tuple[str | int, ...], value: Any) -> None:
    """The schema check has teeth: each of these mistakes in a copy of manifest.yaml is caught."""
    broken = copy.deepcopy(MANIFEST)
    _set(broken, path, value)
    with pytest.raises(jsonschema.ValidationError):
        _manifest_validator().validate(broken)


def test_a_manifest_without_display_information_fails_the_schema() -> None:
    broken = copy.deepcopy(MANIFEST)
    del broken["display_information"]
    with pytest.raises(jsonschema.ValidationError, match="display_information"):
        _manifest_validator().validate(broken)
