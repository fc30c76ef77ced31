"""A sandboxed kernel starts with matplotlib's font list in its home, so it never runs fc-list.

Building the font list runs `fc-list`, whose complaints on stderr ("Fontconfig error: ...") went into
the output of a notebook's first cell that imports matplotlib, and so into every feedback page.
`probe_sandbox` warms the list once in a home that every kernel gets a copy of.
"""
import os
import subprocess
import sys

import pytest

from coursetools import sandbox
from coursetools.grading.kernel import probe_sandbox

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

#: Imports matplotlib's font manager with every subprocess it starts recorded; prints them.
SPY = """
import subprocess
started = []
for name in ("Popen",):
    real = getattr(subprocess, name)
    class Spy(real):
        def __init__(self, args, *rest, **kwargs):
            started.append(args)
            super().__init__(args, *rest, **kwargs)
    setattr(subprocess, name, Spy)
import matplotlib.font_manager
print("started:", started)
"""


def in_sandbox(work, code, home_template):
    private, scratch = work / "private", work / "scratch"
    private.mkdir()
    scratch.mkdir()
    (private / "connection.json").write_text("{}")
    return subprocess.run([sys.executable, sandbox.__file__, "--connection-file", str(private / "connection.json"),
                           "--home-template", str(home_template), "--", sys.executable, "-c", code],
                          cwd=scratch, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "JPY_PARENT_PID": str(os.getpid())})


def test_the_probe_s_home_holds_matplotlib_s_font_list_and_a_kernel_with_it_runs_no_fc_list(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(work, 0o755)
    home = probe_sandbox(work)
    assert list(home.glob(".config/matplotlib/fontlist-*.json")), sorted(str(p) for p in home.rglob("*"))
    (tmp_path / "kernel").mkdir(mode=0o755)
    done = in_sandbox(tmp_path / "kernel", SPY, home)
    assert done.returncode == 0, done.stderr
    assert "started: []" in done.stdout, done.stdout
    assert done.stderr == ""
