#!/usr/bin/env python3
"""The over-purchase rule as a batch query in polars (lazy API), for
comparison with aldebaran's replay (`bench/peers/README.md`).

Usage: polars_overfill.py FILE.jsonl
Prints one line: events=<N> seconds=<S> alerts=<A>
  events:  lines that parsed into an event (id and #shares present)
  seconds: wall time of the query, reading the file included (the
           interpreter's and polars' import are not)
  alerts:  orders whose purchases exceed their request

The rule it computes (a simplified SPEC §2: no TTLs, no orphans, a whole-file
batch), and how it differs from aldebaran's, are in bench/peers/README.md.

polars' NDJSON reader stops at the first malformed line even with
ignore_errors, so the file is read as one text column (one row per line) and
the fields are taken with json_path_match, which gives null for a line that
is not JSON (invalid UTF-8 is read lossily first).
"""

import sys
import time

import polars as pl


def query(path: str) -> pl.LazyFrame:
    lines = pl.scan_csv(
        path,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        schema={"line": pl.String},
        # Malformed lines include invalid UTF-8: replaced, then rejected
        # by json_path_match like any other bad line.
        encoding="utf8-lossy",
    ).with_row_index("pos")
    line = pl.col("line").str
    events = (
        lines.select(
            "pos",
            line.json_path_match("$.id").alias("id"),
            line.json_path_match("$['#shares']").cast(pl.Int64, strict=False).alias("shares"),
            line.json_path_match("$.initial_order_id").alias("initial_order_id"),
        )
        .filter(pl.col("id").is_not_null() & pl.col("shares").is_not_null())
        .with_columns(pl.coalesce("initial_order_id", "id").alias("order_key"))
    )
    requests = (
        events.filter(pl.col("initial_order_id").is_null())
        .group_by("order_key")
        .agg(pl.col("shares").sort_by("pos").first().alias("requested"))
    )
    purchases = (
        events.filter(pl.col("initial_order_id").is_not_null())
        .unique(subset=["order_key", "id"], keep="first", maintain_order=True)
        .sort("pos")
        .with_columns(pl.col("shares").cum_sum().over("order_key").alias("filled"))
    )
    alerts = (
        purchases.join(requests, on="order_key", how="inner")
        .filter(pl.col("filled") > pl.col("requested"))
        .select(pl.col("order_key").n_unique().alias("alerts"))
    )
    counted = events.select(pl.len().alias("events"))
    return pl.concat([counted, alerts], how="horizontal")


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: polars_overfill.py FILE.jsonl", file=sys.stderr)
        return 2
    start = time.perf_counter()
    row = query(sys.argv[1]).collect().row(0)
    seconds = time.perf_counter() - start
    events, alerts = row
    print(f"events={events} seconds={seconds:.6f} alerts={alerts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
