"""Capturing an item: reading what the raiser typed (command_text), checking it into a
Submission (submission), and storing it with its event and outbox messages before Slack hears
back (filing)."""
