"""What the browser tests share: a scratch copy of the learner's files, a Jupyter server, Chromium.

The server runs from the repository's .venv on 127.0.0.1, with a token, on a
free port, in a temporary folder holding:

    readonly/                       the helpers, as next to the learner copies
    1-Backpropagation.ipynb ...     the untouched learner copies (the top-level notebooks)
    solved/readonly/, solved/*.ipynb  the same notebooks with every solution filled in
    mistaken/readonly/, mistaken/1-Backpropagation.ipynb  solved, but J_b3 takes sigma for d_sigma

Chromium is Debian's, at /usr/bin/chromium, driven by Playwright (its own
browser download is never used).  Every wait is bounded.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from coursetools.course import assignments, find, graded_functions  # noqa: E402
from coursetools.sample_class import CLASS, full_solution, submission  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VENV_BIN = REPO / ".venv" / "bin"
SCREENSHOTS = REPO / "screenshots"
SOLVED = "solved"
#: A folder holding MISTAKE's notebook: a full solution with one recognised mistake, in J_b3.
MISTAKEN, MISTAKE = "mistaken", "J_b3-sigma-for-d_sigma"

#: Seconds: the server to answer, a notebook to load, a whole Run All to finish.
SERVER_START, PAGE_LOAD, RUN_ALL = 90, 90, 420

#: Code cells that draw: a figure must show under each.
PLOTTING = re.compile(r"\b(plot_training|draw_\w+|histogram|contour|plt\.\w+)\s*\(")
#: LaTeX that MathJax should have turned into math: none may be left as text.
RAW_LATEX = re.compile(r"\$\$|\\(frac|mathbf|partial|sigma|mu|left|right|begin)\b")


def require_chromium():
    """Debian's Chromium, or a failure that says how to get it (never a skip)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"The browser tests need Debian's Chromium at {CHROMIUM}, which is missing. "
            "`make test` installs it with apt-get when run as root; otherwise run "
            "`sudo apt-get install chromium` (Playwright's own browser download is not used).",
            pytrace=False,
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("The browser tests need the Python package playwright (pinned in requirements.txt): "
                    "run `make test`, which installs requirements.txt into .venv.", pytrace=False)
    return str(CHROMIUM)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_workdir(folder):
    """Lay out the learner's files in folder; returns {assignment name: Assignment}."""
    folder = Path(folder)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    shutil.copytree(REPO / "readonly", folder / "readonly", ignore=ignore)
    shutil.copytree(REPO / "readonly", folder / SOLVED / "readonly", ignore=ignore)
    shutil.copytree(REPO / "readonly", folder / MISTAKEN / "readonly", ignore=ignore)
    case = next(case for cases in CLASS.values() for case in cases if case.student == MISTAKE)
    nbformat.write(submission(REPO, case), folder / MISTAKEN / find(case.assignment, REPO).notebook)
    found = {}
    for assignment in assignments(REPO):
        shutil.copyfile(assignment.learner_copy(REPO), folder / assignment.notebook)
        nbformat.write(full_solution(REPO, assignment), folder / SOLVED / assignment.notebook)
        found[assignment.name] = assignment
    return found


def _settings(folder, theme):
    """User settings: no news or update checks (there is no internet here), and the theme."""
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            '{"fetchNews": "false", "checkForUpdates": false}',
        "@jupyterlab/apputils-extension/themes.jupyterlab-settings": f'{{"theme": "{theme}"}}',
    }
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


class JupyterServer:
    """`jupyter lab` or `jupyter notebook` from .venv, serving root on 127.0.0.1."""

    def __init__(self, app, root, theme="JupyterLab Light", config_path=None):
        self.app, self.root, self.config_path = app, Path(root), config_path
        self.port, self.token = free_port(), uuid.uuid4().hex
        self.home = Path(tempfile.mkdtemp(prefix=f"e2e-{app}-home-"))
        self.log_path = self.home / "server.log"
        _settings(self.home / "settings", theme)
        self.process = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, path):
        return f"{self.base}{path}?token={self.token}"

    def start(self):
        program = VENV_BIN / f"jupyter-{self.app}"
        if not program.exists():
            pytest.fail(f"{program} is missing: run `make test`, which installs requirements.txt into .venv.",
                        pytrace=False)
        env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "NBGRADER_EXECUTION")}
        env.update(
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            HOME=str(self.home), JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"), IPYTHONDIR=str(self.home / "ipython"),
            JUPYTERLAB_SETTINGS_DIR=str(self.home / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
            MPLCONFIGDIR=str(self.home / "matplotlib"), PYTHONDONTWRITEBYTECODE="1",
        )
        env.pop("JUPYTER_CONFIG_PATH", None)
        if self.config_path is not None:  # as `make lab` gives it: the learners' settings
            env["JUPYTER_CONFIG_PATH"] = str(self.config_path)
        command = [
            str(program), "--no-browser", "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if self.app == "notebook":
            command.pop()  # Notebook 7 has no LabApp
        if os.geteuid() == 0:  # CI containers run as root
            command.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"jupyter {self.app} exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(self.url("/api/status"), timeout=5) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        pytest.fail(f"jupyter {self.app} did not answer within {SERVER_START} s:\n{self.log_text()}")

    def log_text(self):
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        try:  # the server shuts its kernels down itself
            request = urllib.request.Request(self.url("/api/shutdown"), method="POST")
            urllib.request.urlopen(request, timeout=10).close()
            self.process.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


#: The learners' Jupyter settings, which `make lab` puts on JUPYTER_CONFIG_PATH (no instructor tools).
LEARNER_CONFIG = REPO / "jupyter-learner"


@contextmanager
def jupyter(app, root, theme="JupyterLab Light", config_path=None):
    server = JupyterServer(app, root, theme, config_path).start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def chromium(viewport=(1366, 768)):
    """A Playwright browser context in Debian's Chromium, with a new empty profile."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="e2e-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=executable, headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": viewport[0], "height": viewport[1]}, timeout=60_000,
            )
            context.set_default_timeout(30_000)
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def offline_page(path, viewport):
    """A page of a new Chromium with the network off, loaded from the file at path: (page, every URL it asked for)."""
    requested = []
    with chromium(viewport=viewport) as context:
        context.set_offline(True)
        context.on("request", lambda request: requested.append(request.url))
        page = context.new_page()
        page.goto(Path(path).as_uri())
        page.wait_for_load_state("load")
        yield page, requested


# --- driving a notebook page -------------------------------------------------------------

_STATE = """() => {
    const cells = [...document.querySelectorAll('.jp-Notebook .jp-Cell')];
    const prompts = cells.filter(c => c.classList.contains('jp-CodeCell'))
        .map(c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '');
    return {cells: cells.length, prompts};
}"""


def open_notebook(page, url, expected_cells):
    """Load a notebook page and wait until its cells are all there and its kernel is idle."""
    page.goto(url, wait_until="domcontentloaded", timeout=PAGE_LOAD * 1000)
    deadline = time.monotonic() + PAGE_LOAD
    while time.monotonic() < deadline:
        state = page.evaluate(_STATE)
        if state["cells"] == expected_cells and kernel_idle(page):
            return
        page.wait_for_timeout(300)
    raise AssertionError(f"{url}: after {PAGE_LOAD} s, {page.evaluate(_STATE)['cells']} of {expected_cells} "
                         f"cells shown, kernel {kernel_status(page)!r}")


def kernel_status(page):
    """The kernel's status as the page shows it ('idle', 'busy', ...), or '' if not shown yet."""
    return page.evaluate("""() => {
        const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
        if (indicator && indicator.dataset.status) return indicator.dataset.status;
        const bar = document.querySelector('.jp-StatusBar-TextItem[title*="Kernel"], #jp-main-statusbar');
        const text = bar ? bar.textContent : '';
        const match = text.match(/\\| (Idle|Busy|Starting|Connecting|Unknown|Restarting)/);
        return match ? match[1].toLowerCase() : '';
    }""")


def kernel_idle(page):
    return kernel_status(page) == "idle"


def run_all(page):
    """Run > Run All Cells from the menu bar, as a learner does, and wait until it is over.

    Over means: the first code cell has run, no cell waits with [*], and the
    kernel is idle, twice in a row half a second apart.
    """
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).first.click()
    page.locator(".lm-Menu-item:visible", has_text=re.compile(r"^Run All Cells")).first.click()
    deadline = time.monotonic() + RUN_ALL
    settled = 0
    while time.monotonic() < deadline:
        prompts = page.evaluate(_STATE)["prompts"]
        started = bool(prompts) and re.search(r"\[\d+\]", prompts[0])
        busy = any("*" in p for p in prompts)
        settled = settled + 1 if started and not busy and kernel_idle(page) else 0
        if settled >= 2:
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"Run All did not finish within {RUN_ALL} s; prompts {page.evaluate(_STATE)['prompts']}")


_RECORD_FRAMES = """(index) => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
    const frames = window.__e2eFrames = [];
    const record = () => {
        const prompt = (cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '';
        const img = cell.querySelector('.jp-OutputArea-output img');
        if (!img || !prompt.includes('*') || (frames.length && frames[frames.length - 1] === img.src)) return;
        frames.push(img.src);
    };
    new MutationObserver(record).observe(cell, {subtree: true, childList: true, attributes: true,
                                                attributeFilter: ['src']});
}"""

_SHOW_FRAME = """(src) => {
    let img = document.getElementById('e2e-frame');
    if (!img) {
        img = document.createElement('img');
        img.id = 'e2e-frame';
        img.style.cssText = 'position: fixed; left: 0; top: 0; z-index: 100000; background: white;';
        document.body.appendChild(img);
    }
    img.src = src;
    return img.decode();
}"""


class FigureWatcher:
    """Records every image one code cell shows while it runs ([*]), as the page shows it.

    start() before the cell runs installs a MutationObserver on the cell, so no frame is
    missed however fast they come; finish() returns the distinct images, in order, and saves
    a screenshot of each (the image shown alone on the page) as screenshots/<stem>-<n>.png.
    """

    def __init__(self, page, index, stem):
        self.page, self.index, self.stem = page, index, stem
        self.images, self.saved = [], []

    def start(self):
        self.page.evaluate(_RECORD_FRAMES, self.index)

    def finish(self):
        self.images = self.page.evaluate("() => window.__e2eFrames")
        SCREENSHOTS.mkdir(exist_ok=True)
        for n, src in enumerate(self.images, start=1):
            self.page.evaluate(_SHOW_FRAME, src)
            path = SCREENSHOTS / f"{self.stem}-{n}.png"
            self.page.locator("#e2e-frame").screenshot(path=path, timeout=30_000)
            self.saved.append(path)
        self.page.evaluate("() => document.getElementById('e2e-frame')?.remove()")
        return self.images

    @property
    def changes(self):
        """How many times the image changed after it first appeared."""
        return max(0, len(self.images) - 1)


def training_cell(notebook):
    """The index of the code cell that calls plot_training, or None."""
    found = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and "plot_training(" in c.source]
    return found[0] if found else None


_CELLS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(cell => {
    const outputs = [...cell.querySelectorAll('.jp-OutputArea-output')];
    return {
        code: cell.classList.contains('jp-CodeCell'),
        prompt: ((cell.querySelector('.jp-InputArea-prompt') || {}).textContent || '').trim(),
        text: outputs.map(o => o.textContent).join('\\n'),
        errors: [...cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
            .map(o => o.textContent),
        images: [...cell.querySelectorAll('.jp-OutputArea-output img')]
            .map(img => ({loaded: img.complete && img.naturalWidth > 0, width: img.naturalWidth,
                          height: img.naturalHeight})),
        markdown: cell.classList.contains('jp-MarkdownCell')
            ? ((cell.querySelector('.jp-RenderedMarkdown') || {}).textContent || null) : null,
        math: cell.querySelectorAll('mjx-container').length,
    };
})"""


def cells_shown(page):
    """What each cell of the open notebook shows, in notebook order."""
    return page.evaluate(_CELLS)


def wait_for_math(page, notebook):
    """Wait until every markdown cell with $ in its source shows typeset math; return the cells."""
    wanted = [i for i, c in enumerate(notebook.cells) if c.cell_type == "markdown" and "$" in c.source]
    deadline = time.monotonic() + PAGE_LOAD
    while True:
        shown = cells_shown(page)
        missing = [i for i in wanted if shown[i]["math"] == 0]
        if not missing or time.monotonic() > deadline:
            return shown, missing
        page.wait_for_timeout(500)


def first_graded_test_cell(notebook):
    """The index of the visible test cell of the notebook's first graded function."""
    first = graded_functions(notebook)[0]
    for index, cell in enumerate(notebook.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == f"test_{first}":
            return first, index
    raise AssertionError(f"no cell test_{first}")


def plotting_cells(notebook):
    return [i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and PLOTTING.search(c.source)]


def screenshot_outputs(page, indices, stem):
    """Save the output of each cell in indices as screenshots/<stem>-<n>.png; returns the paths."""
    SCREENSHOTS.mkdir(exist_ok=True)
    saved = []
    cells = page.locator(".jp-Notebook .jp-Cell")
    for n, index in enumerate(indices, start=1):
        output = cells.nth(index).locator(".jp-OutputArea").first
        output.scroll_into_view_if_needed(timeout=10_000)
        path = SCREENSHOTS / f"{stem}-{n}.png"
        output.screenshot(path=path, timeout=30_000)
        saved.append(path)
    return saved


def workspace_url(server, path):
    """A URL that opens path in a fresh, empty JupyterLab workspace (or Notebook 7's page)."""
    if server.app == "lab":
        return server.url(f"/lab/workspaces/e2e-{uuid.uuid4().hex[:8]}/tree/{path}") + "&reset"
    return server.url(f"/notebooks/{path}")


# --- what a finished run must show, from the course spec -----------------------------------

def _printed(shown):
    return "\n".join(cell["text"] for cell in shown if cell["code"])


def backprop_numbers(shown):
    """The training cell prints a final cost below 5e-3."""
    lines = [line for line in _printed(shown).splitlines() if line.startswith("cost before training")]
    assert lines, "no cell printed 'cost before training ...': the training cell did not finish"
    final = float(lines[-1].rsplit(":", 1)[1])
    assert final < 5e-3, f"training ended at cost {final}, not below 5e-3: {lines[-1]}"


def heights_numbers(shown):
    """After 50 steps, mu = 178.52 cm and sigma = 7.55 cm are printed."""
    found = re.findall(r"after 50 steps: mu = ([\d.]+) cm, sig = ([\d.]+) cm", _printed(shown))
    assert found, "no cell printed 'after 50 steps: mu = ... cm, sig = ... cm'"
    mu, sig = map(float, found[-1])
    assert abs(mu - 178.52) < 0.006 and abs(sig - 7.55) < 0.006, f"the fit ended at mu={mu}, sig={sig}"


#: For each assignment, the check of the numbers its full solution ends with.
FINAL_NUMBERS = {"backprop": backprop_numbers, "heights": heights_numbers}


def final_numbers(name):
    if name not in FINAL_NUMBERS:
        pytest.fail(f"assignment {name!r} has no expected final numbers in tests/e2e/jupyter_browser.py "
                    "FINAL_NUMBERS: add them from the course spec.", pytrace=False)
    return FINAL_NUMBERS[name]


# --- the checks both front ends share --------------------------------------------------------

def check_math(page, notebook, where):
    """Every markdown cell with $ in its source shows typeset math and no LaTeX left as text."""
    shown, missing = wait_for_math(page, notebook)
    assert not missing, f"{where}: markdown cells {missing} show no typeset math (no mjx-container)"
    raw = {i: RAW_LATEX.search(c["markdown"]).group(0) for i, c in enumerate(shown)
           if c["markdown"] and RAW_LATEX.search(c["markdown"])}
    assert not raw, f"{where}: LaTeX left visible as text in markdown cells {raw}"


def run_solved(page, server, assignment, stem, live_changes=0):
    """Open the full solution, check its math, Run All, check every cell; returns the figure screenshots.

    live_changes: how many times, at least, the training cell's figure must change while
    that cell runs (the live figure); its frames are saved as screenshots/<stem>-live-<n>.png.
    """
    notebook = nbformat.read(Path(server.root) / SOLVED / assignment.notebook, as_version=4)
    where = f"{server.app}: {SOLVED}/{assignment.notebook}"
    open_notebook(page, workspace_url(server, f"{SOLVED}/{assignment.notebook}"), len(notebook.cells))
    check_math(page, notebook, where)
    watcher = None
    if live_changes:
        index = training_cell(notebook)
        assert index is not None, f"{where}: no cell calls plot_training"
        watcher = FigureWatcher(page, index, f"{stem}-live")
        watcher.start()
    run_all(page)
    if watcher is not None:
        watcher.finish()
        assert watcher.changes >= live_changes, (
            f"{where}: the training figure changed {watcher.changes} times while its cell ran, "
            f"not at least {live_changes}")
    shown = cells_shown(page)
    assert len(shown) == len(notebook.cells)
    errors = {i: c["errors"] for i, c in enumerate(shown) if c["errors"]}
    assert not errors, f"{where}: cells show errors or stderr: {errors}"
    not_run = [i for i, c in enumerate(shown) if c["code"] and not re.fullmatch(r"\[\d+\]:", c["prompt"])
               and notebook.cells[i].source.strip() and not notebook.cells[i].source.strip().startswith("#")]
    assert not not_run, f"{where}: code cells {not_run} did not run"
    drawing = plotting_cells(notebook)
    assert drawing, f"{where}: found no plotting cell"
    blank = [i for i in drawing if not any(img["loaded"] and img["width"] > 100 for img in shown[i]["images"])]
    assert not blank, f"{where}: plotting cells {blank} show no image"
    final_numbers(assignment.name)(shown)
    check_math(page, notebook, where)
    saved = screenshot_outputs(page, drawing, stem)
    page.screenshot(path=SCREENSHOTS / f"{stem}-window.png")
    return saved + (watcher.saved if watcher is not None else [])


def run_untouched(page, server, assignment, stem):
    """Open the learner copy as handed out, Run All: it must stop at the first test, with the teaching message.

    The message is all the failing test shows; the test cell is screenshotted as
    screenshots/<stem>-first-test.png.
    """
    function = graded_functions(nbformat.read(Path(server.root) / assignment.notebook, as_version=4))[0]
    run_to_first_failure(page, server, assignment.notebook, f"{function} still raises NotImplementedError",
                         SCREENSHOTS / f"{stem}-first-test.png")


def run_mistaken(page, server, path):
    """Open MISTAKE's notebook, Run All: test_J_b3 must fail first, showing its whole message alone; screenshot it."""
    shown = run_to_first_failure(page, server, f"{MISTAKEN}/{find('backprop', REPO).notebook}",
                                 "J_b3 is not right yet.", path)
    assert "expected:" in shown and "got:" in shown and "likely cause" in shown, shown
    return shown


def run_to_first_failure(page, server, notebook_path, first_line, screenshot):
    """Open notebook_path, Run All: it must stop at its first graded function's visible test, which must show
    a message starting with first_line, alone (no frames of readonly/checking.py or a checks module above it);
    that cell is screenshotted to screenshot.  Returns the message as shown.
    """
    notebook = nbformat.read(Path(server.root) / notebook_path, as_version=4)
    where = f"{server.app}: {notebook_path}"
    open_notebook(page, workspace_url(server, notebook_path), len(notebook.cells))
    run_all(page)
    shown = cells_shown(page)
    function, test_cell = first_graded_test_cell(notebook)
    with_errors = [i for i, c in enumerate(shown) if c["errors"]]
    assert with_errors == [test_cell], (
        f"{where}: expected Run All to stop at test_{function} (cell {test_cell}) alone; "
        f"cells with errors: {with_errors}")
    message = "\n".join(shown[test_cell]["errors"])
    assert message.lstrip().startswith(first_line), f"{where}: test_{function} shows {message!r}"
    assert not any(word in message for word in ("Traceback", "checking.py", "_checks.py")), message
    later = [i for i, c in enumerate(shown) if i > test_cell and c["code"] and c["prompt"] not in ("[ ]:", "")]
    assert not later, f"{where}: cells {later} ran after the failing test cell"
    cell = page.locator(".jp-Notebook .jp-Cell").nth(test_cell)
    cell.scroll_into_view_if_needed(timeout=10_000)
    Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
    cell.screenshot(path=screenshot, timeout=30_000)
    return message


# --- nbgrader's instructor tools (test_e2e_menus, test_e2e_lab) ------------------------------

#: The Nbgrader menu's items that only instructors should see.
INSTRUCTOR_ITEMS = ["Course List", "Create assignment", "Formgrader"]


def instructor_tools_shown(page, server):
    """What of nbgrader's instructor tools server's JupyterLab shows: the Nbgrader menu's instructor items,
    whether a side bar has the Create Assignment panel, the HTTP status of /formgrader."""
    page.goto(server.url("/lab"), wait_until="domcontentloaded")
    menu = page.locator(".lm-MenuBar-item", has_text="Nbgrader").first
    menu.wait_for(timeout=60_000)
    tabs = page.evaluate("() => [...document.querySelectorAll('.lm-TabBar-tab')].map(t => t.textContent"
                         " + ' ' + (t.getAttribute('title') || ''))")
    menu.click()
    items = {item.text_content().strip() for item in page.locator(".lm-Menu-item:visible").all()}
    page.keyboard.press("Escape")
    assert "Assignment List" in items, items  # the learners' own tool stays
    try:
        with urllib.request.urlopen(server.url("/formgrader"), timeout=30) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    return {"menu": sorted(items & set(INSTRUCTOR_ITEMS)),
            "create panel": any("Create Assignment" in tab for tab in tabs), "formgrader": status}


# --- fixtures (imported by the test modules) -------------------------------------------------

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch copy of the learner's files; see the module docstring."""
    require_chromium()  # fail first, and clearly, when the browser is missing
    folder = tmp_path_factory.mktemp("learner")
    make_workdir(folder)
    return folder


@pytest.fixture(scope="module")
def browser():
    """A Chromium browser context, with a fresh profile."""
    with chromium() as context:
        yield context


@pytest.fixture
def page(browser):
    page = browser.new_page()
    yield page
    page.close()
