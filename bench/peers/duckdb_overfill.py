#!/usr/bin/env python3
"""The over-purchase rule as a batch query in DuckDB, for comparison with
aldebaran's replay (`bench/peers/README.md`).

Usage: duckdb_overfill.py FILE.jsonl
Prints one line: events=<N> seconds=<S> alerts=<A>
  events:  lines that parsed into an event (id and #shares present)
  seconds: wall time of the query, reading the file included (the
           interpreter's and duckdb's import are not)
  alerts:  orders whose purchases exceed their request

The rule it computes (a simplified SPEC §2: no TTLs, no orphans, a whole-file
batch), and how it differs from aldebaran's, are in bench/peers/README.md.
"""

import sys
import time

import duckdb

QUERY = """
WITH raw AS (
    -- ignore_errors turns an unparsable line into a row of NULLs, so the
    -- scan keeps one row per line, in file order (insertion order is kept).
    SELECT row_number() OVER () AS pos, id, "#shares" AS shares, initial_order_id
    FROM read_json(?, format = 'newline_delimited', ignore_errors = true,
                   columns = {'id': 'VARCHAR', '#shares': 'BIGINT',
                              'initial_order_id': 'VARCHAR'})
),
events AS (
    SELECT pos, id, shares, initial_order_id,
           coalesce(initial_order_id, id) AS order_key
    FROM raw
    WHERE id IS NOT NULL AND shares IS NOT NULL
),
requests AS (
    -- the first request per order
    SELECT order_key, arg_min(shares, pos) AS requested
    FROM events
    WHERE initial_order_id IS NULL
    GROUP BY order_key
),
purchases AS (
    -- a repeated purchase (same order, same purchase id) counts once: the first
    SELECT order_key, min(pos) AS pos, arg_min(shares, pos) AS shares
    FROM events
    WHERE initial_order_id IS NOT NULL
    GROUP BY order_key, id
),
running AS (
    SELECT order_key,
           sum(shares) OVER (PARTITION BY order_key ORDER BY pos
                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS filled
    FROM purchases
)
SELECT (SELECT count(*) FROM events) AS events,
       (SELECT count(DISTINCT r.order_key)
        FROM running r JOIN requests q USING (order_key)
        WHERE r.filled > q.requested) AS alerts
"""


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: duckdb_overfill.py FILE.jsonl", file=sys.stderr)
        return 2
    con = duckdb.connect()
    start = time.perf_counter()
    events, alerts = con.execute(QUERY, [sys.argv[1]]).fetchone()
    seconds = time.perf_counter() - start
    print(f"events={events} seconds={seconds:.6f} alerts={alerts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
