"""The local Slack look-alike behind `cxbot try`: an embedded fake Slack Web API, and (to come) the
page that plays Slack. Nothing in the rest of bot/ or handlers/ imports it."""
