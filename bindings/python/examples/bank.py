#!/usr/bin/env python3
"""The core loop of examples/bank (docs/example.md) in Python: commands
validated against the state at the head and appended with the optimistic
check (retried when another writer won), threads racing, and a listener
keeping a projection up to date.

    EVDB_LIBRARY=build/lib/libevdb.so.1 PYTHONPATH=bindings/python \\
        python3 bindings/python/examples/bank.py [URI]     # default: memory:bank
"""

import json
import random
import sys
import threading

import evdb


def apply(balances, event):
    e = event.json()
    if event.type_name == "AccountOpened":
        balances[e["account"]] = e["initial"]
    else:  # MoneyTransferred
        balances[e["from"]] -= e["amount"]
        balances[e["to"]] += e["amount"]


def state(db):
    """The balances and the head they are at (one read-only transaction)."""
    balances = {}
    with db.tx_read_only() as tx:
        for event in tx.iter_events():
            apply(balances, event)
        return balances, tx.read_system_version()


def command(db, type_name, rule, payload):
    """Reads the state, checks the rule, appends at the head read; starts over
    when another writer appended meanwhile. Returns (accepted, retries)."""
    retries = 0
    while True:
        balances, head = state(db)
        if not rule(balances):
            return False, retries
        try:
            with db.tx_rw() as tx:
                tx.append_event(head, type_name=type_name, payload=json.dumps(payload))
            return True, retries
        except (evdb.VersionMismatch, evdb.Conflict):
            retries += 1


def transfers(db, n, totals):
    for _ in range(n):
        a, b = random.sample(sorted(ACCOUNTS), 2)
        amount = random.randint(1, 300)
        ok, retries = command(db, "MoneyTransferred", lambda s: s[a] >= amount,
                              {"from": a, "to": b, "amount": amount})
        with LOCK:
            totals["committed" if ok else "rejected"] += 1
            totals["retries"] += retries


ACCOUNTS = ["alice", "bob", "carol", "dave"]
LOCK = threading.Lock()


def main():
    db = evdb.open(sys.argv[1] if len(sys.argv) > 1 else "memory:bank")
    for name in ACCOUNTS:
        command(db, "AccountOpened", lambda s, n=name: n not in s, {"account": name, "initial": 1000})

    # The projection: the listener delivers every version committed from now on.
    listener = db.listen()
    listener.wait_ready()
    projection, seen = state(db)  # nothing committed before wait_ready is missed

    totals = {"committed": 0, "rejected": 0, "retries": 0}
    threads = [threading.Thread(target=transfers, args=(db, 50, totals)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, head = state(db)
    for version in listener:  # catch up event by event until the head
        if version > seen:
            with db.tx_read_only() as tx:
                apply(projection, tx.read_event_at(version))
            seen = version
        if seen == head:
            break
    listener.close()

    print(f"commands: {totals['committed']} committed, {totals['rejected']} rejected, "
          f"{totals['retries']} retries (VersionMismatch/Conflict)")
    print("balances:", "  ".join(f"{k} {v}" for k, v in sorted(projection.items())),
          f"(total {sum(projection.values())})")
    ok = projection == state(db)[0] and sum(projection.values()) == 1000 * len(ACCOUNTS)
    print("check:", "OK: the projection kept by the listener equals a replay" if ok else "FAILED")
    db.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
