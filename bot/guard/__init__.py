"""Requests refused before any listener sees them: unsigned, replayed, oversized or malformed
requests (bot/guard/edge.py, HTTP only), payloads of the wrong shape (payload.py), and requests
for a workspace this bot isn't installed in (workspace.py)."""
