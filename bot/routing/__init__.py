"""Routing: which owner an item goes to (rules), and the routes file that defines the owners."""
