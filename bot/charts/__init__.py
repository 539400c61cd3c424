"""Charts drawn for Slack: images, not Block Kit (that is bot/blocks)."""
