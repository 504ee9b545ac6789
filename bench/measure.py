#!/usr/bin/python3
"""Runs a command and measures it the same way for every leecher.

  measure.py REPORT.json CMD ARGS...

The command inherits stdin/stdout/stderr. When it exits, REPORT.json gets:
  wallSeconds     process lifetime (start-up included)
  userSeconds, systemSeconds   from wait4's rusage, all threads included
  maxRssKiB       peak resident set (ru_maxrss), file-backed pages included
  peakRssAnonKiB  peak anonymous resident memory, sampled from /proc every 50 ms;
                  it leaves out the page cache a memory-mapped file shows as resident
                  (libtorrent 2 maps the files it downloads into)
  exitCode
"""
import json
import os
import subprocess
import sys
import time


def rss_anon_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    report_path, command = sys.argv[1], sys.argv[2:]
    start = time.monotonic()
    child = subprocess.Popen(command)
    peak_anon = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            break
        peak_anon = max(peak_anon, rss_anon_kib(child.pid))
        time.sleep(0.05)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    with open(report_path, "w") as f:
        json.dump({
            "wallSeconds": wall,
            "userSeconds": usage.ru_utime,
            "systemSeconds": usage.ru_stime,
            "maxRssKiB": usage.ru_maxrss,
            "peakRssAnonKiB": peak_anon,
            "exitCode": code,
        }, f)
    sys.exit(code if code >= 0 else 1)


if __name__ == "__main__":
    main()
