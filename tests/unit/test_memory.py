"""After a big short-lived computation, `give_back` makes the process's resident memory fall again (glibc)."""

import subprocess
import sys

import pytest

from gongkai import memory

PROGRAM = """
import os
from gongkai import memory

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

base = rss_mb()
blocks = [bytes(2000) + bytes([i % 256]) for i in range(60_000)]  # ~120 MB on malloc's heap
kept = blocks[::500]  # a few survivors, as a report's results do: the heap's top cannot simply shrink
del blocks
before = rss_mb()
memory.give_back()
after = rss_mb()
print(round(base), round(before), round(after))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or memory._trim() is None, reason="glibc only")
def test_freed_heap_goes_back_to_the_system():
    out = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True).stdout
    base, before, after = map(int, out.split())
    assert before - base > 80, out  # the freed blocks were still resident
    assert after - base < 20, out  # and are not after give_back
