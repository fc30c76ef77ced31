"""Properties of the grader over generated inputs (Hypothesis): whatever `submitted/` holds.

Quick properties (no kernel): reading `submitted/` never fails and takes exactly the folders that
can be student ids; any bytes given as a notebook are screened in bounded time, and what the screen
lets through nbformat reads or refuses with an ordinary error.  The slow property runs `make grade`
on generated classes: exit 0, every valid folder recorded once in the gradebook and the journal, the
honest student's full marks intact, nothing written outside the course.  `make test` runs a few
examples; `make fuzz` runs many (FUZZ_EXAMPLES per quick property, FUZZ_CLASSES graded classes).  Failing examples found are kept below
as @example regression cases.
"""
import hashlib
import json
import os
import shutil
import stat

import nbformat
import pytest
from conftest import REPO, copy_course
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from coursetools.course import find, function_scores, release
from coursetools.grading import intake
from coursetools.journal import read as read_journal
from coursetools.grading.screen import screen_notebook

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))  # per quick property; 0: a short, fixed run
CLASSES = int(os.environ.get("FUZZ_CLASSES", "0"))  # generated classes graded end to end; 0: two
QUICK = settings(max_examples=EXAMPLES or 60, deadline=None, derandomize=not EXAMPLES,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RELEASED = REPO / "release" / "backprop" / "1-Backpropagation.ipynb"

# --------------------------------------------------------------------------- names and folders

name_text = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from([".grade-journal.jsonl", ".", "..", "-rf", "=HYPERLINK(\"http://x\",\"x\")", "+1", "@a",
                     "a[1]", "*", "ok", "Zoë", "名前", "a\x1bb", "a\u202eb", "x" * 128, "x" * 129]),
).filter(lambda name: "/" not in name and "\0" not in name and name not in (".", ".."))
name_bytes = st.binary(min_size=1, max_size=30).filter(lambda b: b"/" not in b and b"\0" not in b
                                                       and b not in (b".", b".."))
names = st.one_of(name_text.map(lambda n: os.fsencode(n)), name_bytes).filter(lambda b: len(b) <= 255)
kinds = st.sampled_from(["folder", "link-to-folder", "file", "fifo", "empty"])


def make_entry(submitted, name, kind, assignment=b"backprop"):
    path = os.path.join(submitted, name)
    if kind == "file":
        with open(path, "wb") as handle:
            handle.write(b"x")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "link-to-folder":
        os.symlink(b"../../source", path)
    else:
        os.mkdir(path)
        if kind == "folder":
            os.mkdir(os.path.join(path, assignment))


@QUICK
@given(entries=st.dictionaries(names, kinds, max_size=8))
@example(entries={b".grade-journal.jsonl": "folder", b"m-\xff": "folder", b"ok": "folder"})
@example(entries={b"\x1f\xed\x9e\xa4": "folder"})  # found: U+D7A4 (unassigned) was shown as it is
@example(entries={"a\u200bb".encode(): "folder"})  # a zero-width space: a name that looks like another
def test_reading_submitted_never_fails_and_takes_exactly_the_valid_folders(tmp_path_factory, entries):
    root = tmp_path_factory.mktemp("names")
    submitted = os.path.join(os.fsencode(root), b"submitted")
    os.mkdir(submitted)
    for name, kind in entries.items():
        make_entry(submitted, name, kind)
    accepted, refused = intake.find_submissions(root, ["backprop"])
    valid = {name for name, kind in entries.items() if kind == "folder" and intake.refusal(name) is None}
    assert sorted(os.fsencode(s.student) for s in accepted) == sorted(valid)
    for refusal in refused:
        assert refusal.name.isprintable() and len(refusal.name) <= intake.SHOWN and refusal.reason
    invalid = {name for name, kind in entries.items() if kind in ("folder", "empty")
               and intake.refusal(name) is not None}
    links = {name for name, kind in entries.items() if kind == "link-to-folder"}
    assert len(refused) == len(invalid) + len(links)


files = st.lists(st.tuples(st.sampled_from(["file", "sparse", "fifo", "link", "folder"]),
                           st.integers(0, 3 * 2 ** 20)), max_size=12)


@QUICK
@given(entries=files)
@example(entries=[("sparse", 1048321)])  # found: the oracle forgot that the folder's own size counts
def test_reading_a_submission_never_fails_never_opens_a_fifo_and_respects_its_limits(tmp_path_factory, entries):
    folder = tmp_path_factory.mktemp("files")
    for number, (kind, size) in enumerate(entries):
        path = folder / f"e{number}"
        if kind == "file":
            path.write_bytes(b"y" * (size % 4096))
        elif kind == "sparse":
            with open(path, "wb") as handle:
                handle.truncate(size * 16)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "link":
            path.symlink_to("/etc/passwd")
        else:
            path.mkdir()
    read = intake.read_submission(folder, max_files=8, max_bytes=2 ** 24)
    counted = [p for p in folder.iterdir() if not p.is_dir() or p.is_symlink()]
    sizes = sum(max(p.lstat().st_size, p.lstat().st_blocks * 512) for p in [folder, *folder.rglob("*")])
    if len(counted) > 8 or sizes > 2 ** 24:
        assert read.too_large and read.files == {}
    else:
        assert read.too_large is None
        assert set(read.files) == {p.name for p in counted if stat.S_ISREG(p.lstat().st_mode)}


# --------------------------------------------------------------------------- notebooks

def released():
    return json.loads(RELEASED.read_text())


def at(document, path):
    for key in path:
        document = document[key]
    return document


def paths(document, prefix=()):
    """Every (path) to a value of document."""
    yield prefix
    if isinstance(document, dict):
        for key, value in document.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from paths(value, (*prefix, index))


# (containers made afresh for each example: a shared one, changed by a later mutation, would leak between examples)
replacements = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                         st.builds(list), st.builds(dict), st.builds(lambda: [{} for _ in range(2000)]),
                         st.just("x" * 100_000), st.integers(1, 60).map(lambda depth: json.loads("[" * depth + "]" * depth)))


@st.composite
def mutated(draw):
    """The released notebook's JSON with a few random changes: types swapped, keys dropped, nesting, ids doubled."""
    document = released()
    every = list(paths(document))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(every))
        action = draw(st.sampled_from(["replace", "drop", "nbformat", "duplicate-id"]))
        if action == "nbformat" and isinstance(document, dict):
            document["nbformat"], document["nbformat_minor"] = draw(st.sampled_from([(3, 0), (4, 0), (4, 5), (5, 0)]))
        elif action == "duplicate-id":
            cells = document.get("cells") if isinstance(document, dict) else None
            if isinstance(cells, list) and len(cells) > 1 and all(isinstance(c, dict) for c in cells[:2]):
                cells[1]["id"] = cells[0].get("id")
        elif path and action == "drop":
            parent = at(document, path[:-1])
            del parent[path[-1]]
            every = list(paths(document))
        elif path:
            at(document, path[:-1])[path[-1]] = draw(replacements)
            every = list(paths(document))
    return json.dumps(document).encode()


@QUICK
@given(data=mutated())
def test_a_mutated_notebook_is_screened_and_then_read_or_refused_with_an_ordinary_error(data):
    reason = screen_notebook(data)
    if reason is None:
        try:
            nbformat.reads(data.decode(), as_version=4)
        except (MemoryError, RecursionError):
            raise
        except Exception:  # refused as a broken notebook: the grader says so for that submission
            pass


@QUICK
@given(data=st.binary(max_size=4096))
def test_any_bytes_are_screened_without_an_error(data):
    assert screen_notebook(data) is None or isinstance(screen_notebook(data), str)


# --------------------------------------------------------------------------- make grade end to end

@pytest.fixture(scope="module")
def released_course(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("fuzz-template"))
    release(course)
    return course


def snapshot(folder):
    """Digests of every file of folder (links not followed)."""
    digests = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    digests[path] = hashlib.sha256(handle.read()).hexdigest()
    return digests


@pytest.mark.slow
@pytest.mark.sandbox
@settings(max_examples=CLASSES or 2, deadline=None, derandomize=not CLASSES,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(class_=st.lists(st.tuples(names, st.one_of(mutated(), st.just(None))), min_size=1, max_size=4,
                       unique_by=lambda entry: entry[0]))
def test_make_grade_is_total_on_generated_classes(released_course, tmp_path_factory, class_):
    grade_generated_class(released_course, tmp_path_factory.mktemp("fuzz"), class_)


def grade_generated_class(released_course, folder, class_):
    """Grade the released course plus class_ ((folder name, notebook bytes or None) pairs) and the honest
    full solution; check the promise of a total run."""
    from grading_runs import FAST, PYTHON_PATH, run_grader

    from coursetools.sample_class import CLASS, write_submission

    course = folder / "course"
    shutil.copytree(released_course, course, symlinks=True)
    honest = next(c for c in CLASS["backprop"] if c.student == "full-solution")
    write_submission(course, honest)
    submitted = os.path.join(os.fsencode(course), b"submitted")
    expected = {"full-solution"}
    for name, notebook in class_:
        if name == b"full-solution":
            continue
        student = os.path.join(submitted, name)
        os.makedirs(os.path.join(student, b"backprop"), exist_ok=True)
        if notebook is not None:
            with open(os.path.join(student, b"backprop", b"1-Backpropagation.ipynb"), "wb") as handle:
                handle.write(notebook)
        if intake.refusal(name) is None:
            expected.add(name.decode())
    outside = {p: snapshot(course / p) for p in ("source", "release", "readonly")}
    done = run_grader(course, *FAST, "--jobs", "2", env={**os.environ, "PATH": PYTHON_PATH,
                                                           "TMPDIR": str(folder)}, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    scores = function_scores(course, find("backprop", course))
    assert set(scores) == expected
    assert set(student for _, student in read_journal(course)) == expected
    assert all(score == maximum > 0 for score, maximum in scores["full-solution"].values())
    assert {p: snapshot(course / p) for p in outside} == outside
    return done
