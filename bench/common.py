"""What the benchmarks share: timed runs with their median and spread, a verdict word, and this
process's peak resident set (Linux VmHWM), reset between steps."""

import ctypes
import gc
import resource
import statistics
import time
from collections.abc import Callable


class Runs:
    """Timed runs of one step, in seconds."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.times: list[float] = []

    def time(self, step: Callable[[], object]) -> object:
        started = time.perf_counter()
        result = step()
        self.times.append(time.perf_counter() - started)
        return result

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def line(self, extra: str = "") -> str:
        runs = ", ".join(f"{t:.2f}" for t in self.times)
        spread = f"{min(self.times):.2f}–{max(self.times):.2f}"
        return f"{self.label:<44} {self.median:7.2f} s  (spread {spread}; runs {runs}){extra}"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def trim() -> None:
    """Free what the last step left and give it back to the system (glibc), so that the next
    step's peak is its own."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_reset() -> None:
    """Reset this process's peak resident set (VmHWM; Linux)."""
    trim()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def rss_mb() -> float:
    """This process's resident set now, in MiB."""
    return _status("VmRSS:")


def peak_mb() -> float:
    """This process's peak resident set since ``peak_reset``, in MiB."""
    return _status("VmHWM:")


def _status(key: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
