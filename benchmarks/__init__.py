"""cxbot's benchmark suite: ack latency over HTTP and the scheduled jobs at scale.

Run it from the repository root with `.venv/bin/python -m benchmarks` (see `--help`). It writes
its results to docs/benchmarks.md, with the command that produced them. It is not part of the test
suite: nothing here is collected by pytest.
"""
