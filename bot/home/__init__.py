"""App Home: each person's own queue and what they raised."""
