"""``make bench-replay``: time ``gateway replay`` end to end and watch memory over the run.

    python -m bench.replay [--events 20000] [--publish-only 0]

1. Generate ``--events`` canonical events (the partner-format workload of bench/workload.py, parsed
   by the real adapters) into a JSON Lines file.
2. Start ``gateway worker`` against a fresh vhost and database (bench/stack.py), run
   ``gateway replay FILE --wait`` and sample the resident memory of both processes every second.
3. Print and write (``bench/results/replay.json``) the time, the rate and the RSS samples (first,
   peak, last, and the slope over the second half of the run: flat memory is a slope near zero).

The issue's target is 1,000,000 events in 6 minutes. Run with ``--events 1000000`` where the pipeline
can approach that rate; on a machine where it cannot, measure fewer and extrapolate (docs/performance.md
says which was done).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.base import RawInput
from adapters.registry import get_adapter
from bench.run import machine
from bench.stack import Stack, rss_mb
from bench.workload import Workload
from gateway.settings import REPO_ROOT

RESULTS = Path(__file__).resolve().parent / "results"


def write_events(stack: Stack, path: Path, count: int) -> int:
    w = Workload(stack.mappings_dir, seed=7)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        child = 0
        while written < count:
            m = w.message(child)
            child += 1
            raw = RawInput(m.body, m.instance, datetime.now(UTC), m.content_type, None, m.headers)
            for e in get_adapter(m.system, stack.mappings_dir).parse(raw):
                out.write(e.to_json().decode() + "\n")
                written += 1
    return written


def slope(samples: list[tuple[float, float]]) -> float | None:
    """MiB per minute over the second half of the samples (least squares)."""
    half = samples[len(samples) // 2 :]
    if len(half) < 3:
        return None
    n = len(half)
    mx = sum(t for t, _ in half) / n
    my = sum(v for _, v in half) / n
    var = sum((t - mx) ** 2 for t, _ in half)
    return round(60 * sum((t - mx) * (v - my) for t, v in half) / var, 2) if var else None


def summary(samples: list[tuple[float, float]]) -> dict[str, Any]:
    if not samples:
        return {}
    return {
        "first_mb": round(samples[0][1], 1),
        "peak_mb": round(max(v for _, v in samples), 1),
        "last_mb": round(samples[-1][1], 1),
        "slope_mb_per_min_second_half": slope(samples),
        "samples": len(samples),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--out", type=Path, default=RESULTS / "replay.json")
    args = p.parse_args(argv)
    from gateway import logs

    logs.configure("WARNING", False)
    stack = Stack(
        os.environ.get("GATEWAY_TEST_AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"),
        os.environ.get("GATEWAY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        management_url=os.environ.get("GATEWAY_TEST_AMQP_MANAGEMENT_URL", "http://localhost:15672"),
    ).open()
    result: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "machine": machine()}
    try:
        path = stack.tmp / "events.jsonl"
        t = time.monotonic()
        result["events"] = write_events(stack, path, args.events)
        result["generate_s"] = round(time.monotonic() - t, 1)
        worker = stack.gateway("worker", name="worker")
        with open(stack.tmp / "replay.log", "ab") as log:
            started = time.monotonic()
            replay = subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "replay", str(path), "--wait", "--wait-timeout", "300"],
                env=stack.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
            rss: dict[str, list[tuple[float, float]]] = {"worker": [], "replay": []}
            while replay.poll() is None:
                now = time.monotonic() - started
                for name, pid in (("worker", worker.proc.pid), ("replay", replay.pid)):
                    v = rss_mb(pid)
                    if v is not None:
                        rss[name].append((now, v))
                time.sleep(1.0)
            elapsed = time.monotonic() - started
        result["replay_exit"] = replay.returncode
        result["seconds"] = round(elapsed, 1)
        result["events_per_s"] = round(result["events"] / elapsed, 1)
        result["extrapolated_1m_minutes"] = round(1_000_000 / result["events_per_s"] / 60, 1)
        result["rss"] = {k: summary(v) for k, v in rss.items()}
        result["replay_output_tail"] = (stack.tmp / "replay.log").read_text(errors="replace")[-400:]
    finally:
        stack.close()
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
