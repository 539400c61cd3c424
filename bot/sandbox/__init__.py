"""The local Slack look-alike behind `cxbot try`: what the page shows, drawn from the same Block Kit
JSON cxbot sends to Slack.

Nothing in the rest of bot/, handlers/ or storage/ imports it (a contract in pyproject.toml): the
app doesn't know it is in the sandbox.
"""
