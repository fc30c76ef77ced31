"""Peak memory of a grading worker on a hostile notebook, against nbformat reading the same bytes.

    python benchmarks/memory.py [--objects N]

The notebook is the released backprop notebook with `[{}] * N` in one cell's metadata (N = 1,000,000:
5.75 MiB, issue 16's finding 6).  Each measurement runs in a fresh process and reports that process's
own peak resident memory (VmHWM) and wall time:

1. what a worker does with it: `coursetools.grading.screen.screen_notebook` on the bytes (the grader
   refuses the notebook before nbformat or nbgrader parse it);
2. what stock nbgrader would do first: `nbformat.reads` of the same bytes (validation included);
3. the baseline: the same imports, nothing read.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RELEASED = REPO / "release" / "backprop" / "1-Backpropagation.ipynb"

MEASURE = """
import sys, time
sys.path.insert(0, {repo!r})
import nbformat
from coursetools.grading.screen import screen_notebook
data = open({path!r}, 'rb').read()
started = time.perf_counter()
what = {what!r}
if what == 'screen':
    result = screen_notebook(data)
elif what == 'nbformat':
    result = type(nbformat.reads(data.decode(), as_version=4)).__name__
else:
    result = None
seconds = time.perf_counter() - started
peak = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM'))
print(peak, seconds, repr(result)[:80])
"""


def measure(path, what):
    done = subprocess.run([sys.executable, "-c", MEASURE.format(repo=str(REPO), path=str(path), what=what)],
                          capture_output=True, text=True, check=True)
    peak, seconds, result = done.stdout.split(" ", 2)
    return int(peak) / 1024, float(seconds), result.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    arguments = parser.parse_args()
    notebook = json.loads(RELEASED.read_text())
    notebook["cells"][0]["metadata"]["many"] = [{}] * arguments.objects
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hostile.ipynb"
        path.write_text(json.dumps(notebook))
        print(f"notebook: {path.stat().st_size / 2 ** 20:.2f} MiB, [{{}}] * {arguments.objects:,} in cell metadata")
        base = measure(path, "none")
        for what in ("none", "screen", "nbformat"):
            started = time.perf_counter()
            peak, seconds, result = measure(path, what)
            print(f"{what:9s}: peak {peak:8.1f} MiB ({peak - base[0]:+8.1f} over the imports), "
                  f"{seconds:6.2f} s; {result}  [process {time.perf_counter() - started:.1f} s]")


if __name__ == "__main__":
    main()
