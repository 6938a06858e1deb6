"""Memory and speed of the read model at national size (not a test: run it by hand).

    .venv/bin/python -m tests.services.catalogue.resolution.measure_national

Memory is what tracemalloc sees retained by the model after each kind of record is put in (the
parsers' own garbage is gone by then); speed is resolve() over 100,000 random (LeiKa key,
Gemeinde ARS) pairs, timed one call at a time with perf_counter_ns.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import statistics
import time
import tracemalloc
from typing import Any

from contracts.catalogue import RecordKind
from services.catalogue.importers.administrations import national_rules
from services.catalogue.resolution import CatalogueReadModel, PublishedRecord
from tests.services.catalogue.resolution.national import (
    administration_records,
    leistungen_records,
    record,
    register_gemeinden,
    specific_records,
)

PAIRS = 100_000


def _retained(model: CatalogueReadModel, make: Any) -> tuple[int, int]:
    """Bytes the model retains for the records `make()` builds, and how many there were."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    records: list[PublishedRecord[Any]] = make()
    for held in records:
        model.put(held)
    count = len(records)
    del records
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - before, count


def main() -> None:
    """Build the national model under tracemalloc, then time resolve()."""
    gemeinden = register_gemeinden()
    leistungen = leistungen_records()
    tracemalloc.start()
    model = CatalogueReadModel()
    print("kind                     records   retained bytes   bytes/record")
    rows = [
        ("Leistung", lambda: leistungen_records()),
        ("Organisationseinheit", lambda: administration_records(gemeinden)),
        (
            "national rules",
            lambda: [
                record(RecordKind.ZUSTAENDIGKEIT, "bund", key, rule)
                for key, rule in national_rules(leistung.content.leika_typ for leistung in leistungen)
            ],
        ),
        ("specific records", lambda: specific_records(gemeinden, leistungen)),
    ]
    total = 0
    for name, make in rows:
        size, count = _retained(model, make)
        total += size
        print(f"{name:22} {count:9,} {size:16,} {size / max(count, 1):14,.0f}")
    print(f"{'total':22} {'':9} {total:16,}")
    tracemalloc.stop()
    counts = model.counts()
    print("held:", counts)
    rules = [r for r in specific_records(gemeinden, leistungen) if r.kind is RecordKind.ZUSTAENDIGKEIT]
    probe = CatalogueReadModel()
    tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for rule in rules:
        probe.put(rule)
    gc.collect()
    rule_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(
        f"Zuständigkeiten alone: {len(rules):,} rules, {rule_bytes:,} bytes, {rule_bytes / len(rules):,.0f} bytes/rule"
    )

    rng = random.Random(1)
    keys = [leistung.content.leika_key for leistung in leistungen]
    pairs = [(rng.choice(keys), rng.choice(gemeinden).ars) for _ in range(PAIRS)]
    as_of = dt.date(2025, 6, 1)
    resolve = model.resolve
    for leika_key, ars in pairs[:5_000]:
        resolve(leika_key, ars, as_of=as_of)
    timings = []
    answered = 0
    clock = time.perf_counter_ns
    for leika_key, ars in pairs:
        start = clock()
        resolution = resolve(leika_key, ars, as_of=as_of)
        timings.append(clock() - start)
        answered += resolution is not None
    timings.sort()
    print(
        f"resolve over {PAIRS:,} random (LeiKa key, Gemeinde) pairs: answered {answered:,}; "
        f"p50 {timings[PAIRS // 2] / 1000:.1f} µs, p99 {timings[PAIRS * 99 // 100] / 1000:.1f} µs, "
        f"max {timings[-1] / 1000:.1f} µs, mean {statistics.fmean(timings) / 1000:.1f} µs"
    )
    for ars in ("05", "05315", "053150000000"):
        start = clock()
        overview = model.ozg_overview(ars, as_of=as_of)
        took = (clock() - start) / 1e6
        print(
            f"ozg_overview({ars}): {overview.online_whole} whole, {overview.online_part} part "
            f"of {overview.leistungen_total} in {took:.1f} ms"
        )


if __name__ == "__main__":
    main()
