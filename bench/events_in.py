#!/usr/bin/env python3
"""Waits until `aldebaran run` engines have taken in N events between them
(the sum of `aldebaran_events_in_total` on their /metrics), polling every
20 ms; with --rate, prints events/s from the first poll that saw an event to
the first that saw N.

One process with a kept-alive connection per endpoint: a poll costs about
1 ms of CPU here, against ~12 ms for `curl | awk` from a shell, which took
~40% of a core from the broker and the engine being measured on 2 cores.

    bench/events_in.py --ports 19190 --until 100000 --rate
"""
import argparse
import http.client
import sys
import time


class Endpoint:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def events_in(self):
        """The counter's sum, or 0 while the endpoint does not answer yet."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            self.conn.request("GET", "/metrics")
            body = self.conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return 0
        total = 0
        for line in body.split(b"\n"):
            if line.startswith(b"aldebaran_events_in_total"):
                total += int(float(line.rsplit(None, 1)[1]))
        return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ports", required=True, help="metrics ports, comma-separated")
    ap.add_argument("--until", type=int, required=True, help="events to wait for")
    ap.add_argument("--rate", action="store_true", help="print events/s")
    ap.add_argument("--every", type=float, default=0.02, help="seconds between polls")
    a = ap.parse_args()
    endpoints = [Endpoint(int(p)) for p in a.ports.split(",")]

    def total():
        return sum(e.events_in() for e in endpoints)

    while (first := total()) == 0:
        time.sleep(a.every)
    t0 = time.monotonic()
    while total() < a.until:
        time.sleep(a.every)
    t1 = time.monotonic()
    if a.rate:
        print(f"{(a.until - first) / max(t1 - t0, 1e-9):.0f}")


if __name__ == "__main__":
    sys.exit(main())
