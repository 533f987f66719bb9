"""``make bench``: one run measures the broker's raw ceiling and the gateway end to end, prints one table
and writes JSON (``bench/results/latest.json`` unless ``--out``). docs/performance.md explains it.

    python -m bench.run [--rates 50,200,1000] [--seconds 20] [--saturate 20000] [--raw 50000]

Needs RabbitMQ with the management plugin (``GATEWAY_TEST_AMQP_URL``) and a PostgreSQL server where
databases may be created (``GATEWAY_TEST_DATABASE_URL``), as the tests do. It creates its own virtual
host and database and removes them afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
from rich.console import Console
from rich.table import Table

from bench import load, raw
from bench.stack import Stack
from bench.workload import Workload, check

console = Console(stderr=True)
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    def out(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "loadavg_at_start": os.getloadavg(),
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "rabbitmq": out("bash", "-c", "dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null"),
        "erlang": out("bash", "-c", "dpkg-query -W -f='${Version}' erlang-base 2>/dev/null"),
        "postgresql": out("bash", "-c", "psql --version 2>/dev/null"),
    }


def directory_queues(stack: Stack) -> list[str]:
    from gateway.delivery.directory import directory_from_settings
    from gateway.settings import Settings

    s = Settings(mappings_dir=stack.mappings_dir, environment="test")
    d = directory_from_settings(s)
    return sorted(
        str(ep.settings()["queue"])
        for e in d.entries.values()
        for ep in e.endpoints()
        if ep.channel == "amqp"
    )


def event_size(w: Workload) -> int:
    """Mean size of the canonical events the workload turns into (what crosses gateway.process)."""
    from adapters.base import RawInput
    from adapters.registry import get_adapter

    sizes = []
    for i in range(len(w.prepared)):
        m = w.message(7, template=i)
        adapter = get_adapter(m.system, Path(os.environ["BENCH_MAPPINGS"]))
        for e in adapter.parse(
            RawInput(m.body, m.instance, datetime.now(UTC), m.content_type, None, m.headers)
        ):
            sizes.append(len(e.to_json()))
    return round(sum(sizes) / len(sizes))


class Run:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.stack = Stack(
            os.environ.get("GATEWAY_TEST_AMQP_URL", "amqp://guest:guest@localhost:5672/%2F"),
            os.environ.get("GATEWAY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
            management_url=os.environ.get("GATEWAY_TEST_AMQP_MANAGEMENT_URL", "http://localhost:15672"),
            env_overrides={"GATEWAY_PREFETCH": str(args.prefetch)},
        )
        self.next_child = 0
        self.result: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "machine": machine()}

    def messages(self, count: int) -> list[load.Message]:
        out = [self.workload.message(c) for c in range(self.next_child, self.next_child + count)]
        self.next_child += count
        return out

    def main(self) -> dict[str, Any]:
        self.stack.open()
        try:
            return self._main()
        finally:
            self.result["peak_rss_mb"] = {
                **{k: round(v, 1) if v else v for k, v in self.stack.peak_rss().items()},
                "bench (load generator + listener)": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
                ),
            }
            self.stack.close()

    def _main(self) -> dict[str, Any]:
        args = self.args
        os.environ["BENCH_MAPPINGS"] = str(self.stack.mappings_dir)
        from gateway import logs

        logs.configure("WARNING", False)
        self.workload = Workload(self.stack.mappings_dir)
        self.result["workload"] = {
            "templates": check(self.workload),
            "events_per_message": self.workload.mean_events(),
        }
        size = event_size(self.workload)

        console.print(f"[bold]raw broker ceiling[/bold]: {args.raw} messages of {size} bytes")
        body = b"x" * size
        self.result["raw"] = raw.measure(self.stack.amqp_url, body, args.raw).as_dict()
        console.print(self.result["raw"])

        self.stack.start_api()
        self.stack.gateway("worker", name="worker")
        listener = load.Listener(self.stack.amqp_url, directory_queues(self.stack)).start()
        try:
            console.print("warm-up")
            self._fixed(listener, 20, 100, record=False)
            self.result["fixed"] = []
            for rate in args.rates:
                n = int(rate * args.seconds)
                console.print(f"[bold]offered load[/bold] {rate}/s for {args.seconds}s ({n} messages)")
                self.result["fixed"].append(self._fixed(listener, rate, n))
                console.print(self.result["fixed"][-1])
            if args.saturate:
                console.print(
                    f"[bold]saturation[/bold]: {args.saturate} messages, {args.concurrency} clients"
                )
                self.result["saturation"] = self._saturate(listener, args.saturate)
                console.print(self.result["saturation"])
            dups = sum(1 for v in listener.copies.values() if v > 1)
            self.result["duplicate_notification_copies"] = dups
        finally:
            listener.stop()
        return self.result

    def _fixed(self, listener: load.Listener, rate: float, count: int, record: bool = True) -> dict[str, Any]:
        msgs = self.messages(count)
        t0 = time.perf_counter()
        sent = load.offered_load(
            self.stack.api_url, self.stack.key, msgs, rate, concurrency=self.args.concurrency
        )
        send_s = time.perf_counter() - t0
        unsent = count - len(sent)
        accepted = [s for s in sent if s.status == 202]
        by_event = {e: s.scheduled for s in accepted for e in s.event_ids}
        load.wait_for(listener, set(by_event), timeout=self.args.drain)
        lat = [(listener.first_at[e] - t) * 1000 for e, t in by_event.items() if e in listener.first_at]
        backlog = self._purge()
        return {
            "offered_per_s": rate,
            "messages": count,
            "events": len(by_event),
            "sent_per_s": round(len(sent) / send_s, 1),
            "not_sent_api_saturated": unsent,
            "accepted": len(accepted),
            "statuses": dict(sorted(_statuses(sent).items())),
            "events_notified": len(lat),
            "p50_ms": round(load.percentile(lat, 50), 1),
            "p95_ms": round(load.percentile(lat, 95), 1),
            "p99_ms": round(load.percentile(lat, 99), 1),
            "max_ms": round(max(lat), 1) if lat else None,
            # Percentiles are over the events notified within the drain time; a gateway slower than the
            # offered load leaves the rest queued, purged here so the next load starts clean.
            "purged_backlog": backlog,
        }

    def _purge(self) -> int:
        """Empty gateway.process (events not yet processed): the bench's own vhost, nothing else."""
        conn = pika.BlockingConnection(pika.URLParameters(self.stack.amqp_url))
        try:
            ch = conn.channel()
            return int(ch.queue_purge("gateway.process").method.message_count)
        finally:
            conn.close()

    def _saturate(self, listener: load.Listener, count: int) -> dict[str, Any]:
        msgs = self.messages(count)
        t0 = time.perf_counter()
        sent = load.saturate(self.stack.api_url, self.stack.key, msgs, concurrency=self.args.concurrency)
        ingest_s = time.perf_counter() - t0
        accepted = [s for s in sent if s.status == 202]
        events = {e for s in accepted for e in s.event_ids}
        load.wait_for(listener, events, timeout=self.args.drain * 3)
        notified = [listener.first_at[e] for e in events if e in listener.first_at]
        e2e_s = (max(notified) - t0) if notified else float("nan")
        return {
            "messages": count,
            "events": len(events),
            "statuses": dict(sorted(_statuses(sent).items())),
            "ingest_accepted_events_per_s": round(len(events) / ingest_s, 1),
            "events_notified": len(notified),
            "end_to_end_events_per_s": round(len(notified) / e2e_s, 1) if notified else None,
            "seconds": round(e2e_s, 1),
        }


def _statuses(sent: list[load.Sent]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sent:
        out[str(s.status)] = out.get(str(s.status), 0) + 1
    return out


def table(r: dict[str, Any]) -> Table:
    t = Table(title=f"gateway benchmark {r['started_at'][:19]} on {r['machine']['nproc']} cores")
    t.add_column("measure")
    t.add_column("value", justify="right")
    rw = r["raw"]
    t.add_row("raw broker: confirmed publishes/s", f"{rw['publish_confirmed_per_s']:,.0f}")
    t.add_row("raw broker: acked consumes/s", f"{rw['consume_acked_per_s']:,.0f}")
    for f in r.get("fixed", []):
        t.add_row(
            f"offered {f['offered_per_s']}/s: p50 / p95 / p99 ms",
            f"{f['p50_ms']} / {f['p95_ms']} / {f['p99_ms']}  ({f['events_notified']}/{f['events']} events)",
        )
    sat = r.get("saturation")
    if sat:
        t.add_row("ingest accepted events/s (saturated)", f"{sat['ingest_accepted_events_per_s']:,.0f}")
        t.add_row("end-to-end events/s (saturated)", f"{sat['end_to_end_events_per_s'] or 0:,.0f}")
        ceiling = min(rw["publish_confirmed_per_s"], rw["consume_acked_per_s"])
        r["gateway_over_raw"] = round((sat["end_to_end_events_per_s"] or 0) / ceiling, 4)
        t.add_row("ratio gateway / raw", f"{r['gateway_over_raw']:.3f}")
    for name, mb in r.get("peak_rss_mb", {}).items():
        t.add_row(f"peak RSS {name}", f"{mb} MiB")
    return t


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[50.0, 200.0, 1000.0])
    p.add_argument("--seconds", type=float, default=10.0, help="duration of each offered load")
    p.add_argument("--saturate", type=int, default=2_000, help="messages for the throughput run (0: skip)")
    p.add_argument("--drain", type=float, default=60.0, help="seconds to wait for a load's notifications")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--raw", type=int, default=50_000, help="messages for the raw broker ceiling")
    p.add_argument("--prefetch", type=int, default=256)
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = p.parse_args(argv)
    result = Run(args).main()
    result["finished_at"] = datetime.now(UTC).isoformat()
    result["arguments"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    Console().print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
