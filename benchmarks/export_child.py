"""Run `cxbot export ...` in this process and report its time and peak memory as JSON, the last
line on stdout. A process of its own, so that its peak RSS is the export's alone.

    python -m benchmarks.export_child items|events --out FILE [any other `cxbot export` option]
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks.jobs_child import _peak_rss_mb, _rss_mb
from bot.cli import main as cxbot


def main(argv: list[str]) -> int:
    baseline = _rss_mb()
    started = time.perf_counter()
    code = cxbot(["export", *argv])
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {"code": code, "seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "baseline_rss_mb": baseline}
        )
    )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
