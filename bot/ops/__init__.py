"""Operations: what cxbot tells the admin who runs it. Log lines, as text or JSON (logs), and
Prometheus metrics (metrics)."""
