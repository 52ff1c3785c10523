"""Runs a command and prints its peak resident set size, for `cargo xtask bench`:

    bench_rss.py COMMAND [ARG...]

The command's own output goes to /dev/null; prints `peak_rss_kib <N> exit <status>` (Linux:
ru_maxrss of the waited-for child, in KiB).
"""

import os
import subprocess
import sys

child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print("peak_rss_kib %d exit %d" % (usage.ru_maxrss, os.waitstatus_to_exitcode(status)))
