"""How much a submission that forks busy processes slows an honest one graded beside it.

    PATH=.venv/bin:$PATH .venv/bin/python benchmarks/cpu_share.py [--repeat 3] [--work 5500000]

Starts sandboxes through the launcher, as the grader's workers do (needs bubblewrap; the cpu cgroup
needs root on cgroup v1, or a v2 that hands the cpu controller down).  Prints the honest
submission's wall time alone (pure-Python work, about 1.5 CPU-seconds), then beside a sandbox that
runs 50 busy processes, each in a session of its own, with each sandbox in a cpu cgroup of its own
and without (`--no-cpu-group`), as ratios to alone: the median of the repetitions, and each one.
"""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_cpu_share import HOGS, honest_seconds  # noqa: E402

from coursetools import cgroups  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=int, default=5_500_000, help="iterations of the honest loop")
    options = parser.parse_args()
    found = cgroups.cpu_cgroup()
    print(f"cpu cgroups made under {found[0]} (cgroup v{found[1]})" if found else
          "no cpu cgroup can be made here: 'with the cpu group' is the same as without", flush=True)
    times = {"alone": [], "with the cpu group": [], "without it": []}
    with tempfile.TemporaryDirectory() as work:
        for run in range(options.repeat):
            folder = Path(work) / str(run)
            times["alone"].append(honest_seconds(folder / "alone", options.work))
            times["with the cpu group"].append(honest_seconds(folder / "capped", options.work, hog=True))
            times["without it"].append(honest_seconds(folder / "control", options.work, hog=True, cpu_group=False))
            print(f"run {run + 1}: " + ", ".join(f"{name} {seconds[-1]:.2f} s" for name, seconds in times.items()),
                  flush=True)
    alone = statistics.median(times["alone"])
    print(f"honest submission alone: {alone:.2f} s (median of {options.repeat})")
    for name in ("with the cpu group", "without it"):
        each = ", ".join(f"{seconds / alone:.1f}" for seconds in times[name])
        print(f"beside {HOGS} busy processes in sessions of their own, {name}: "
              f"{statistics.median(times[name]) / alone:.1f}x alone ({each})")


if __name__ == "__main__":
    main()
