"""Block Kit rendering: pure functions from domain values to slack_sdk.models blocks and views.

No session, no client, no SQL.
"""
