"""What cxbot knows of Slack's own: ID shapes (ids), and people, groups and time zones (directory)."""
