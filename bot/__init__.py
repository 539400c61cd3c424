"""cxbot's core and wiring: settings, routing, intake, rendering, the outbox and the CLI."""
