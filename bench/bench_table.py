#!/usr/bin/env python3
"""bench_table.py — the markdown tables of docs/benchmarks.md, from the JSON
files of one scripts/bench run.

    bench_table.py RESULTS_DIR      prints the markdown on stdout
    bench_table.py --check RESULTS_DIR
                                    exits 1, naming them, when a benchmark the
                                    tables name is missing from a run present
                                    in RESULTS_DIR (a renamed case would
                                    otherwise just drop out of the table)

RESULTS_DIR holds, per benchmark program run, <run>.json (Google Benchmark's
--benchmark_out, aggregates only) and <run>.load (lines "before <loadavg>",
"after <loadavg>", "nproc <n>", "reps <n>", "date <UTC>" written by
scripts/bench). The runs it knows are listed in RUNS below; a missing run is
skipped (e.g. `scripts/bench --only memory`).

Figures are medians over the repetitions. Rates are per wall-clock second:
items per iteration divided by the median real time of an iteration, except
for the multi-writer cases, which use the wall_items_per_s counter
(bench/bench_common.hpp: all threads' committed events over the time until
the last thread finished). "evdb / raw" is evdb's rate over the raw client's
(for latencies: the raw latency over evdb's), so 1.00 means as fast and
above 1 faster. CV is the coefficient of variation of the real time (or of
the counter) over the repetitions.
"""
import json
import os
import sys

# One row: label, evdb benchmark, raw benchmark (None: evdb only), items per
# iteration, kind ("rate": events/s; "wall": the wall_items_per_s counter;
# "lat:<counter>": a latency counter in µs; "time": ns per iteration).
# Benchmarks are named by their base name and thread count.


def listener_rows(evdb, raw):
    """The single-listener rows (bench_common.hpp, ListenLatencies): p50 and p99
    from the transaction's start and from the commit's return."""
    return [(f"listener, {frm} → callback, {p} (µs)", (evdb, 1), (raw, 1), 1, f"lat:{c}{p}_us")
            for frm, c in (("transaction start", ""), ("commit return", "ret_")) for p in ("p50", "p99")]


def fan_out_rows(evdb):
    """1000 listens on one handle (bench_common.hpp, fan_out_latency), p50 and p99."""
    return [(f"1000 listeners, commit start → callback, {p} (µs)", (evdb, 1), None, 1, f"lat:{p}_us")
            for p in ("p50", "p99")]


MEMORY = [
    ("one-append transaction", ("AppendCommitOne<LoaderPath>", 1), ("AppendCommitOne<DirectPath>", 1), 1, "rate"),
    ("one-append transaction, raw = driver + libevdb's check", ("AppendCommitOne<LoaderPath>", 1),
     ("AppendCommitOne<DirectCheckedPath>", 1), 1, "rate"),
    ("1000 appends per transaction", ("AppendBatch<LoaderPath>", 1), ("AppendBatch<DirectPath>", 1), 1000, "rate"),
    ("1000 appends per transaction, raw = driver + check", ("AppendBatch<LoaderPath>", 1),
     ("AppendBatch<DirectCheckedPath>", 1), 1000, "rate"),
    ("read_events of 1000", ("ReadEvents<LoaderPath>", 1), ("ReadEvents<DirectPath>", 1), 1000, "rate"),
    ("empty read-only transaction (ns)", ("EmptyReadOnlyTx<LoaderPath>", 1), ("EmptyReadOnlyTx<DirectPath>", 1), 1,
     "time"),
    ("libevdb's validation of one event (ns)", ("ValidateEventLikeTheLoader", 1), None, 1, "time"),
    ("one-append transactions, 1 writer", ("Writers", 1), None, 1, "wall"),
    ("one-append transactions, 8 writers", ("Writers", 8), None, 1, "wall"),
] + [
    (f"1000 listeners, commit → callback, {p} (µs), raw = 1000 threads woken without evdb",
     ("ListenFanOut", 1), ("ThreadWakeFloor", 1), 1, f"lat:{p}_us") for p in ("p50", "p99")
]
SQLITE = [
    ("1000 appends per transaction", ("BM_Driver_AppendBatch", 1), ("BM_Raw_AppendBatch", 1), 1000, "rate"),
    ("one-append transaction", ("BM_Driver_AppendOne", 1), ("BM_Raw_AppendOne", 1), 1, "rate"),
    ("read_events of 1000", ("BM_Driver_ReadEvents", 1), ("BM_Raw_ReadEvents", 1), 1000, "rate"),
    ("one-append transactions, 1 writer", ("BM_Driver_Writers", 1), ("BM_Raw_Writers", 1), 1, "wall"),
    ("one-append transactions, 8 writers", ("BM_Driver_Writers", 8), ("BM_Raw_Writers", 8), 1, "wall"),
]
POSTGRES = [
    ("one-append transaction, 1 writer", ("BM_AppendOne_Evdb", 1), ("BM_AppendOne_Raw", 1), 1, "wall"),
    ("one-append transactions, 8 writers", ("BM_AppendOne_Evdb", 8), ("BM_AppendOne_Raw", 8), 1, "wall"),
    ("100 appends per transaction", ("BM_AppendBatch_Evdb", 1), ("BM_AppendBatch_Raw", 1), 100, "rate"),
    ("read_events of 1000", ("BM_ReadEvents_Evdb", 1), ("BM_ReadEvents_Raw", 1), 1000, "rate"),
    ("one-append transaction, +1 ms per round trip", ("BM_AppendOne_Evdb/delay_us:1000", 1),
     ("BM_AppendOne_Raw/delay_us:1000", 1), 1, "wall"),
    ("100 appends per transaction, +1 ms per round trip", ("BM_AppendBatch_Evdb/delay_us:1000", 1),
     ("BM_AppendBatch_Raw/delay_us:1000", 1), 100, "rate"),
] + listener_rows("BM_ListenLatency_Evdb", "BM_ListenLatency_Raw") + fan_out_rows("BM_ListenFanOut_Evdb")
REDIS = [
    ("one-append transaction, 1 writer", ("BM_Driver_AppendOne", 1), ("BM_Raw_AppendOne", 1), 1, "wall"),
    ("one-append transactions, 8 writers", ("BM_Driver_AppendOne", 8), ("BM_Raw_AppendOne", 8), 1, "wall"),
    ("1000 appends per transaction", ("BM_Driver_AppendBatch", 1), ("BM_Raw_AppendBatch", 1), 1000, "rate"),
    ("read_events of 1000", ("BM_Driver_ReadEvents", 1), ("BM_Raw_ReadEvents", 1), 1000, "rate"),
] + listener_rows("BM_Driver_ListenLatency", "BM_Raw_ListenLatency") + fan_out_rows("BM_Driver_ListenFanOut")

# The runs of scripts/bench: file stem, driver heading, setting shown, rows.
RUNS = [
    ("memory", "memory", "", MEMORY),
    ("sqlite-normal", "sqlite", "synchronous=normal", SQLITE),
    ("sqlite-full", "sqlite", "synchronous=full", SQLITE),
    ("postgres-durable", "postgres", "durable (synchronous_commit=on)", POSTGRES),
    ("postgres-async", "postgres", "synchronous_commit=off", POSTGRES),
    ("redis", "redis", "no persistence", REDIS),
]

# Racing writers (docs/benchmarks.md, "Writers"): driver-specific baselines
# that race instead of queueing: (run stem, label, benchmark base name).
RACING = {
    "postgres": ("raw libpqxx, no lock (SERIALIZABLE only)", "BM_AppendOne_RawUnqueued"),
    "redis": ("evdb with write_lock_ms=0", "BM_Driver_AppendOneUnqueued"),
}
WRITERS = {  # driver: (evdb base name) of the 1-vs-8 writer cases
    "memory": "Writers",
    "sqlite": "BM_Driver_Writers",
    "postgres": "BM_AppendOne_Evdb",
    "redis": "BM_Driver_AppendOne",
}

UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_name(run_name):
    """(base, threads) of a run name like 'BM_X/min_time:2.000/real_time/threads:8'.
    An added round-trip delay other than 0 ('delay_us:1000', the PostgreSQL
    cases run through a delaying relay) is part of the base: 'BM_X/delay_us:1000';
    so is a shared context of the fan-out cases ('shared_ctx:1')."""
    parts = run_name.split("/")
    base = parts[0]
    threads = 1
    for p in parts[1:]:
        if p.startswith("threads:"):
            threads = int(p[len("threads:"):])
        elif (p.startswith("delay_us:") and p != "delay_us:0") or p == "shared_ctx:1":
            base += "/" + p
    return base, threads


def load_run(path):
    """{(base, threads): {aggregate: entry}} from a Google Benchmark JSON file."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:  # e.g. the file of a program that crashed
        print(f"bench_table.py: {path} skipped: {e}", file=sys.stderr)
        return {}
    out = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type") != "aggregate":
            continue
        key = parse_name(b["run_name"])
        out.setdefault(key, {})[b["aggregate_name"]] = b
    return out


def load_meta(path):
    meta = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, _, v = line.strip().partition(" ")
                meta[k] = v
    return meta


def figure(run, key, items, kind):
    """(value, cv) of one benchmark, or None when it is missing."""
    b = run.get(key)
    if not b or "median" not in b:
        return None
    med, cv = b["median"], b.get("cv", {})
    if kind == "wall":
        if "wall_items_per_s" not in med:
            kind = "rate"
        else:
            return med["wall_items_per_s"], cv.get("wall_items_per_s")
    if kind.startswith("lat:"):
        c = kind[4:]
        return (med[c], cv.get(c)) if c in med else None
    secs = med["real_time"] * UNIT_S[med.get("time_unit", "ns")]
    if kind == "time":
        return secs * 1e9, cv.get("real_time")
    return items / secs, cv.get("real_time")


def fmt_rate(v):
    for div, suf in ((1e9, " G/s"), (1e6, " M/s"), (1e3, " k/s")):
        if v >= div:
            return f"{v / div:.3g}{suf}"
    return f"{v:.3g} /s"


def fmt_value(v, kind):
    if v is None:
        return "—"
    if kind in ("rate", "wall"):
        return fmt_rate(v)
    return f"{v:.0f}" if v >= 100 else f"{v:.3g}"


def fmt_cv(c):
    return "—" if c is None else f"{c * 100:.0f} %"


def retries(run, key):
    b = run.get(key)
    if not b or "median" not in b:
        return None
    return b["median"].get("retries_per_commit")


def fmt_retries(r):
    return "" if r is None else f"{r:.3g}"


def ratio(e, r, kind):
    if e is None or r is None or e[0] <= 0 or r[0] <= 0:  # a latency may be negative (ret_)
        return "—"
    x = r[0] / e[0] if kind.startswith("lat:") or kind == "time" else e[0] / r[0]
    return f"**{x:.2f}**"


def load_line(meta):
    bits = []
    if "date" in meta:
        bits.append(meta["date"])
    if "nproc" in meta:
        bits.append(f"nproc {meta['nproc']}")
    if "before" in meta and "after" in meta:
        b, a = meta["before"].split(), meta["after"].split()
        bits.append(f"load average (1/5/15 min) {' '.join(b[:3])} before, {' '.join(a[:3])} after")
    if "reps" in meta:
        bits.append(f"medians of {meta['reps']} interleaved repetitions")
    return "; ".join(bits)


def driver_tables(results_dir):
    out = []
    loaded = {}
    current = None
    for stem, driver, setting, rows in RUNS:
        path = os.path.join(results_dir, stem + ".json")
        if not os.path.exists(path):
            continue
        run = load_run(path)
        if not run:
            continue
        meta = load_meta(os.path.join(results_dir, stem + ".load"))
        loaded[stem] = (driver, setting, run, meta)
        if driver != current:
            out.append(f"### {driver}\n")
            current = driver
        line = " — ".join(x for x in (f"**{setting}**" if setting else "", load_line(meta)) if x)
        if line:
            out.append(line + ".\n")
        out.append("| operation | evdb | raw | evdb / raw | CV evdb / raw | lost races per commit evdb / raw |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for label, ekey, rkey, items, kind in rows:
            e = figure(run, ekey, items, kind)
            r = figure(run, rkey, items, kind) if rkey else None
            if e is None and r is None:
                continue
            cv = fmt_cv(e[1] if e else None) + (" / " + fmt_cv(r[1] if r else None) if rkey else "")
            re_, rr = retries(run, ekey), retries(run, rkey) if rkey else None
            lost = " / ".join(fmt_retries(x) for x in ((re_, rr) if rkey else (re_,)))
            if re_ is None and rr is None:
                lost = ""
            out.append(
                f"| {label} | {fmt_value(e[0] if e else None, kind)} | "
                f"{fmt_value(r[0] if r else None, kind) if rkey else '—'} | "
                f"{ratio(e, r, kind) if rkey else ''} | {cv} | {lost} |"
            )
        out.append("")
    return out, loaded


def writers_table(loaded):
    out = [
        "### Writers: 8 against 1\n",
        "One-append transactions at the head each writer read; committed events per wall-clock second "
        "of all writers (`wall_items_per_s`); lost races per committed event. Target (issue #11): "
        "8 writers ≥ 0.9 × 1 writer, lost races near 0.\n",
        "| driver | setting | evdb, 1 writer | evdb, 8 writers | 8 / 1 | lost races per commit (8) | "
        "racing baseline: 1 → 8 writers (lost races per commit) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for stem, (driver, setting, run, meta) in loaded.items():
        base = WRITERS.get(driver)
        if base is None:
            continue
        one, eight = figure(run, (base, 1), 1, "wall"), figure(run, (base, 8), 1, "wall")
        if one is None or eight is None:
            continue
        race = "—"
        if driver in RACING:
            label, rbase = RACING[driver]
            r1, r8 = figure(run, (rbase, 1), 1, "wall"), figure(run, (rbase, 8), 1, "wall")
            if r1 and r8:
                race = (f"{label}: {fmt_rate(r1[0])} → {fmt_rate(r8[0])} "
                        f"({fmt_retries(retries(run, (rbase, 8)))})")
        out.append(
            f"| {driver} | {setting or '—'} | {fmt_rate(one[0])} | {fmt_rate(eight[0])} | "
            f"**{eight[0] / one[0]:.2f}** | {fmt_retries(retries(run, (base, 8)))} | {race} |"
        )
    out.append("")
    return out


def missing(results_dir):
    """The (run, benchmark) pairs the tables name but the results lack."""
    out = []
    for stem, driver, _, rows in RUNS:
        path = os.path.join(results_dir, stem + ".json")
        if not os.path.exists(path):
            continue
        run = load_run(path)
        keys = [k for _, e, r, _, _ in rows for k in (e, r) if k]
        if driver in RACING:
            keys += [(RACING[driver][1], 1), (RACING[driver][1], 8)]
        for k in dict.fromkeys(keys):
            if k not in run or "median" not in run[k]:
                out.append(f"{stem}: {k[0]} with {k[1]} thread(s)")
    return out


def main():
    args = sys.argv[1:]
    check = bool(args) and args[0] == "--check"
    if check:
        args = args[1:]
    if len(args) != 1:
        sys.exit("usage: bench_table.py [--check] RESULTS_DIR")
    if check:
        gone = missing(args[0])
        for m in gone:
            print(f"bench_table.py: no median for {m}", file=sys.stderr)
        sys.exit(1 if gone else 0)
    tables, loaded = driver_tables(args[0])
    if not loaded:
        sys.exit(f"bench_table.py: no results in {args[0]}")
    print("\n".join(tables + writers_table(loaded)).rstrip() + "\n")


if __name__ == "__main__":
    main()
