"""The outbox: the only way a stored change speaks to Slack. Message kinds, the dispatcher that
claims and sends them, each kind's delivery, and the Slack calls deliveries make."""
