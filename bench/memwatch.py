#!/usr/bin/env python3
"""Runs a command and samples its memory every 20 ms from /proc/PID/status.

Usage: bench/memwatch.py OUT -- COMMAND...

Writes to OUT one line `seconds=S peak_rss_anon_kib=A peak_rss_file_kib=F`:
the command's wall time and the peaks of its anonymous and file-backed
resident memory (RssAnon, RssFile + RssShmem). A replay maps its input, so
its total RSS grows with the file while what it allocates should not: the
two are reported apart. The kernel's VmHWM has no such split, hence the
sampling; a peak shorter than 20 ms can be missed.
Exits with the command's status; its stdout and stderr pass through.
"""

import subprocess
import sys
import time


def sample(pid):
    anon = file_ = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key == "RssAnon":
                    anon = int(rest.split()[0])
                elif key in ("RssFile", "RssShmem"):
                    file_ += int(rest.split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return anon, file_


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: bench/memwatch.py OUT -- COMMAND...")
    out, cmd = sys.argv[1], sys.argv[3:]
    start = time.monotonic()
    proc = subprocess.Popen(cmd)
    peak_anon = peak_file = 0
    while proc.poll() is None:
        anon, file_ = sample(proc.pid)
        peak_anon, peak_file = max(peak_anon, anon), max(peak_file, file_)
        time.sleep(0.02)
    secs = time.monotonic() - start
    with open(out, "w") as f:
        f.write(f"seconds={secs:.3f} peak_rss_anon_kib={peak_anon} peak_rss_file_kib={peak_file}\n")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
