"""The local Slack look-alike behind `cxbot try`: an embedded fake Slack Web API (the one the tests
use), what each person would see, rebuilt from the app's calls to it, and the page that draws it
from the same Block Kit JSON cxbot sends to Slack.

Nothing in the rest of bot/, handlers/ or storage/ imports it (a contract in pyproject.toml): the
app doesn't know it is in the sandbox.
"""
