#!/usr/bin/env python3
"""The cost of the Python binding per call: the C benchmarks' cases, step
for step, through evdb for Python. Compare with the same cases in C:

    memory  AppendCommitOne  = bench_memory  AppendCommitOne<LoaderPath>
            ReadEvents/1000  = bench_memory  ReadEvents<LoaderPath>/1000
    sqlite  AppendOne        = bench_sqlite  BM_Driver_AppendOne
            ReadEvents/1000  = bench_sqlite  BM_Driver_ReadEvents

Run (figures and the exact commands: docs/bindings.md (Python)):
    EVDB_LIBRARY=build/lib/libevdb.so.1 PYTHONPATH=bindings/python \\
        /usr/bin/python3 bindings/python/bench/bench_python.py [--repetitions 5]
Prints the median over the repetitions of µs per call, wall and CPU (per
transaction for the appends, per read_events call of 1000 events, decoded
into evdb.Event objects, for the reads).
"""

import argparse
import os
import statistics
import tempfile
import time

import evdb

# The events the C cases append (bench/memory/bench_memory.cpp, bench/bench_common.hpp).
MEMORY_EVENT = dict(type_name="OrderPlaced", revision_vcs="3f9c2ab",
                    payload='{"order_id":12345,"customer":"c-42","amount":19.99,"items":[1,2,3]}')
COMMON_EVENT = evdb.Event(0, "OrderPlaced",
                          '{"order":12345,"customer":"c-778","items":[{"sku":"A-1","qty":2},'
                          '{"sku":"B-7","qty":1}],"total":59.90}', 1_700_000_000_000_000, "3f2a9c1")


def timed(fn, iterations):
    """(wall, CPU) µs per iteration: on a loaded machine the CPU time of the
    process (as Google Benchmark's "CPU" column) is the steadier figure."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(iterations)
    return ((time.perf_counter() - wall) / iterations * 1e6, (time.process_time() - cpu) / iterations * 1e6)


def memory_append_commit_one(iterations):
    db = evdb.open("memory:")
    head = 0

    def run(n):
        nonlocal head
        for _ in range(n):
            tx = db.tx_rw()
            head = tx.append_event(head, **MEMORY_EVENT)
            tx.commit()
    us = timed(run, iterations)
    db.close()
    return us


def memory_read_events_1000(iterations):
    db = evdb.open("memory:")
    with db.tx_rw() as tx:
        for h in range(100_000):
            tx.append_event(h, **MEMORY_EVENT)
    tx = db.tx_read_only()
    at = 1

    def run(n):
        nonlocal at
        for _ in range(n):
            got = tx.read_events(at, 1000)
            at += len(got)
            if at + 1000 > 100_001:
                at = 1
    us = timed(run, iterations)
    tx.commit()
    db.close()
    return us


def sqlite_db(folder):
    return evdb.open(f"sqlite://{folder}/bench.db?synchronous=normal")


def sqlite_append_one(iterations):
    with tempfile.TemporaryDirectory(prefix="evdb-bench-py-") as folder:
        db = sqlite_db(folder)

        def run(n):
            for _ in range(n):
                with db.tx_rw() as tx:
                    tx.append_event(tx.read_system_version(), COMMON_EVENT)
        us = timed(run, iterations)
        db.close()
        return us


def sqlite_read_events_1000(iterations):
    with tempfile.TemporaryDirectory(prefix="evdb-bench-py-") as folder:
        db = sqlite_db(folder)
        for _ in range(10):
            with db.tx_rw() as tx:
                head = tx.read_system_version()
                for _ in range(1000):
                    head = tx.append_event(head, COMMON_EVENT)
        at = 1

        def run(n):
            nonlocal at
            for _ in range(n):
                with db.tx_read_only() as tx:
                    if len(tx.read_events(at, 1000)) != 1000:
                        raise RuntimeError("short read")
                at = 1 if at + 1000 > 10_000 - 1000 else at + 1000
        us = timed(run, iterations)
        db.close()
        return us


CASES = [
    ("memory", "AppendCommitOne", memory_append_commit_one, 20_000),
    ("memory", "ReadEvents/1000", memory_read_events_1000, 300),
    ("sqlite", "AppendOne", sqlite_append_one, 5_000),
    ("sqlite", "ReadEvents/1000", sqlite_read_events_1000, 300),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--filter", default="", help="run only cases whose 'driver case' contains this")
    args = ap.parse_args()
    print(f"evdb {evdb.library_version()} via {os.environ.get('EVDB_LIBRARY', 'the default search')}")
    print(f"{'driver':8} {'case':18} {'wall µs/call':>13} {'CPU µs/call':>12}  (medians; iterations x reps)")
    for driver, case, fn, iterations in CASES:
        if args.filter not in f"{driver} {case}":
            continue
        runs = [fn(iterations) for _ in range(args.repetitions)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"{driver:8} {case:18} {wall:13.2f} {cpu:12.2f}  ({iterations} x {args.repetitions})", flush=True)


if __name__ == "__main__":
    main()
