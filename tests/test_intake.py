"""What the client reads of submitted/ (coursetools.grading.intake): names, links, limits, timestamps.

Fast: folders made under tmp_path, no kernel, no gradebook.
"""
import datetime
import os
import stat
import threading

import pytest

from coursetools.grading import intake
from coursetools.grading.files import digest_folder, remove_tree
from coursetools.grading.intake import Refused, Submission, find_submissions, parse_timestamp, read_submission


def make(root, *parts, files=("1-Backpropagation.ipynb",)):
    """root/submitted/<parts...>/ with files in it (names bytes or str); return the folder (bytes path)."""
    folder = os.path.join(os.fsencode(root), b"submitted", *(os.fsencode(p) for p in parts))
    os.makedirs(folder)
    for name in files:
        with open(os.path.join(folder, os.fsencode(name)), "wb") as handle:
            handle.write(b"{}")
    return folder


# Finding 1: names that cannot be student ids, among them the grader's own file names.

@pytest.mark.parametrize("name", [
    ".grade-journal.jsonl", ".", "..", ".hidden", "-rf", "=HYPERLINK(1)", "+1", "@SUM(A1)", "\tx", "\rx",
    "a\x1bb", "a\x7fb", "a\x85b", "evil\u202etxt", "a\u2066b", "a\u2028b", "a/b", "", "a" * 129, "a[1]", "*", "a?",
    b"m-\xff", "m-\udcff",
])
def test_refusal_refuses_what_cannot_be_a_student_id(name):
    assert intake.refusal(name)


@pytest.mark.parametrize("name", ["alice", "a" * 128, "Zoë", "李雷", "alice@uni.example", "a-b_c.d", b"bob", "a b"])
def test_refusal_accepts_ordinary_student_ids(name):
    assert intake.refusal(name) is None


def test_a_folder_named_like_the_grader_journal_is_refused(tmp_path):
    make(tmp_path, ".grade-journal.jsonl", "backprop")
    make(tmp_path, "alice", "backprop")
    accepted, refused = find_submissions(tmp_path, ["backprop"])
    assert accepted == [Submission("backprop", "alice", tmp_path / "submitted" / "alice" / "backprop")]
    assert [(r.assignment, r.name) for r in refused] == [(None, ".grade-journal.jsonl")]
    assert "starts with '.'" in refused[0].reason


# Finding 2: a name that is not UTF-8 is one line naming it, not a crash.

def test_a_folder_name_that_is_not_utf8_is_refused_with_one_line(tmp_path):
    make(tmp_path, b"m-\xff", "backprop")
    make(tmp_path, "alice", "backprop")
    accepted, refused = find_submissions(tmp_path, ["backprop"])
    assert [s.student for s in accepted] == ["alice"]
    assert refused == [Refused(None, "m-\\xff", "its name is not UTF-8")]


def test_shown_is_printable_unambiguous_and_bounded():
    assert intake.shown(b"m-\xff\x1b[2J\\") == "m-\\xff\\x1b[2J\\\\"
    assert intake.shown("x\u202ey\udcff") == "x\\u202ey\\xff"
    long = intake.shown(b"\xff" * 300)
    assert len(long) <= intake.SHOWN and long.endswith("\\xff…")
    assert intake.shown("a" * 300, 10) == "a" * 9 + "…"


def test_the_students_filter_keeps_only_the_named_students(tmp_path):
    for name in ("alice", "bob", ".x"):
        make(tmp_path, name, "backprop")
    make(tmp_path, "alice", "heights")
    accepted, refused = find_submissions(tmp_path, ["heights", "backprop"], students={"alice"})
    assert [(s.assignment, s.student) for s in accepted] == [("heights", "alice"), ("backprop", "alice")]
    assert refused == []


def test_stray_files_in_submitted_are_skipped_and_a_missing_submitted_is_empty(tmp_path):
    assert find_submissions(tmp_path, ["backprop"]) == ([], [])
    make(tmp_path, "alice", "backprop")
    (tmp_path / "submitted" / ".DS_Store").write_bytes(b"")
    (tmp_path / "submitted" / "alice" / "heights").write_bytes(b"")
    accepted, refused = find_submissions(tmp_path, ["backprop", "heights"])
    assert [s.student for s in accepted] == ["alice"]
    assert refused == [Refused("heights", "alice/heights", "it is not a folder")]


# Finding 3: links below submitted/ are refused; submitted/ itself may be a link.

def test_an_assignment_folder_that_is_a_link_is_refused(tmp_path):
    (tmp_path / "source" / "backprop").mkdir(parents=True)
    (tmp_path / "submitted" / "mallory").mkdir(parents=True)
    os.symlink("../../source/backprop", tmp_path / "submitted" / "mallory" / "backprop")
    accepted, refused = find_submissions(tmp_path, ["backprop"])
    assert accepted == []
    assert refused == [Refused("backprop", "mallory/backprop", "it is a link (links are not followed)")]


def test_a_student_folder_that_is_a_link_is_refused(tmp_path):
    make(tmp_path, "alice", "backprop")
    os.symlink("alice", tmp_path / "submitted" / "mallory")
    accepted, refused = find_submissions(tmp_path, ["backprop"])
    assert [s.student for s in accepted] == ["alice"]
    assert refused == [Refused(None, "mallory", "it is a link (links are not followed)")]


def test_submitted_itself_may_be_a_link(tmp_path):
    make(tmp_path / "elsewhere", "alice", "backprop")
    (tmp_path / "course").mkdir()
    os.symlink(tmp_path / "elsewhere" / "submitted", tmp_path / "course" / "submitted")
    accepted, refused = find_submissions(tmp_path / "course", ["backprop"])
    assert [s.student for s in accepted] == ["alice"] and refused == []


def test_links_inside_a_submission_are_left_out_not_followed(tmp_path):
    folder = make(tmp_path, "mallory", "backprop")
    os.symlink("/etc/passwd", os.path.join(folder, b"2-FittingDistribution.ipynb"))
    read = read_submission(os.fsdecode(folder))
    assert set(read.files) == {"1-Backpropagation.ipynb"}
    assert read.left_out == ["2-FittingDistribution.ipynb"] and read.too_large is None


def test_a_submission_folder_swapped_for_a_link_reads_nothing(tmp_path):
    folder = tmp_path / "submitted" / "mallory" / "backprop"
    folder.parent.mkdir(parents=True)
    os.symlink(tmp_path, folder)
    read = read_submission(folder)
    assert read.files == {} and read.left_out == ["."]


# Finding 4: sizes first, from lstat; nothing but regular files opened; any depth.

def test_a_sparse_file_is_too_large_before_any_byte_is_read(tmp_path, monkeypatch):
    folder = make(tmp_path, "alice", "backprop")
    sparse = os.path.join(folder, b"big.ipynb")
    with open(sparse, "wb"):
        pass
    os.truncate(sparse, 8 * 2 ** 30)
    opened = []
    monkeypatch.setattr(intake, "_read_regular", lambda *args: opened.append(args))
    read = read_submission(os.fsdecode(folder))
    assert read.too_large == "more than 32 MiB (8,192.0 MiB found before stopping)"
    assert read.files == {} and opened == []


def test_exactly_max_files_is_accepted_and_one_more_is_not(tmp_path):
    folder = make(tmp_path, "alice", "backprop", files=[f"{n:03}.txt" for n in range(intake.MAX_FILES)])
    read = read_submission(os.fsdecode(folder))
    assert read.too_large is None and len(read.files) == intake.MAX_FILES
    with open(os.path.join(folder, b"one-more.txt"), "wb"):
        pass
    read = read_submission(os.fsdecode(folder))
    assert read.too_large == "more than 100 files" and read.files == {}
    os.unlink(os.path.join(folder, b"one-more.txt"))
    os.mkdir(os.path.join(folder, b"a-folder"))  # folders are counted apart
    assert read_submission(os.fsdecode(folder)).too_large is None


def test_the_bytes_limit_counts_apparent_sizes(tmp_path):
    folder = make(tmp_path, "alice", "backprop", files=("a",))
    os.truncate(os.path.join(folder, b"a"), 2 * 2 ** 20)
    assert read_submission(os.fsdecode(folder), max_bytes=3 * 2 ** 20).too_large is None
    too_large = read_submission(os.fsdecode(folder), max_bytes=2 ** 20).too_large
    assert too_large == "more than 1 MiB (2.0 MiB found before stopping)"


def test_a_device_is_left_out_and_never_opened(tmp_path):
    folder = make(tmp_path, "alice", "backprop")
    try:
        os.mknod(os.path.join(folder, b"zero.ipynb"), stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero
    except OSError:
        pytest.skip("cannot make a device node here")
    read = read_submission(os.fsdecode(folder))
    assert set(read.files) == {"1-Backpropagation.ipynb"} and read.left_out == ["zero.ipynb"]


def test_a_fifo_is_left_out_and_never_opened(tmp_path):
    folder = make(tmp_path, "alice", "backprop")
    os.mkfifo(os.path.join(folder, b"pipe.ipynb"))
    got = []
    reader = threading.Thread(target=lambda: got.append(read_submission(os.fsdecode(folder))), daemon=True)
    reader.start()
    reader.join(10)
    assert got, "reading the submission blocked on a FIFO"
    assert set(got[0].files) == {"1-Backpropagation.ipynb"} and got[0].left_out == ["pipe.ipynb"]


@pytest.mark.parametrize("change", ["fifo", "grown", "link"])
def test_a_file_changed_between_walk_and_read_is_left_out(tmp_path, monkeypatch, change):
    folder = os.fsdecode(make(tmp_path, "alice", "backprop", files=("a.ipynb", "b.ipynb")))
    walked = intake.walk

    def walk_then_change(top):
        entries = list(walked(top))
        path = os.path.join(folder, "a.ipynb")
        if change == "grown":
            with open(path, "ab") as handle:
                handle.write(b"more")
        else:
            os.unlink(path)
            os.mkfifo(path) if change == "fifo" else os.symlink("/etc/passwd", path)
        yield from entries

    monkeypatch.setattr(intake, "walk", walk_then_change)
    got = []
    reader = threading.Thread(target=lambda: got.append(read_submission(folder)), daemon=True)
    reader.start()
    reader.join(10)
    assert got, "reading the submission blocked"
    assert set(got[0].files) == {"b.ipynb"} and got[0].left_out == ["a.ipynb"]


def test_a_folder_nested_1500_deep_is_walked_without_recursion(tmp_path):
    folder = os.fsdecode(make(tmp_path, "alice", "backprop", files=()))
    deep = folder
    for _ in range(1500):  # os.makedirs itself recurses
        deep = os.path.join(deep, "d")
        os.mkdir(deep)
    with open(os.path.join(deep, "x.txt"), "wb") as handle:
        handle.write(b"deep")
    try:
        read = read_submission(folder)
        assert read.too_large is None and read.files == {os.path.join(*["d"] * 1500, "x.txt"): b"deep"}
        os.mkdir(os.path.join(deep, "d"))
        for number in range(intake.MAX_FOLDERS - 1500):
            os.mkdir(os.path.join(folder, f"f{number}"))
        assert read_submission(folder).too_large == f"more than {intake.MAX_FOLDERS} folders"
    finally:
        remove_tree(folder)  # pytest's own clean-up of tmp_path recurses


def test_the_digest_is_digest_folders_and_follows_contents(tmp_path):
    folder = os.fsdecode(make(tmp_path, "alice", "backprop"))
    os.mkdir(os.path.join(folder, "data"))
    with open(os.path.join(folder, "data", b"\xffodd".decode("utf-8", "surrogateescape")), "wb") as handle:
        handle.write(b"1,2\n")
    os.symlink("nowhere", os.path.join(folder, "link"))
    read = read_submission(folder)
    assert read.digest == digest_folder(folder)
    with open(os.path.join(folder, "1-Backpropagation.ipynb"), "wb") as handle:
        handle.write(b"{ }")
    assert read_submission(folder).digest not in (read.digest, read_submission(folder, max_files=2).digest)


# Finding 5: timestamp.txt parsed strictly by the client.

def test_a_timestamp_naming_a_file_is_not_understood():
    text, problem = parse_timestamp(b"2024-01-01 00:00:00 /proc/kmsg")
    assert text is None and problem.startswith("timestamp.txt not understood")


@pytest.mark.parametrize("data, expected", [
    (b"2024-01-01 00:00:00.123456 UTC", "2024-01-01 00:00:00.123456 UTC"),  # nbgrader submit
    (b"2024-01-01 00:00:00.123456 UTC\n", "2024-01-01 00:00:00.123456 UTC"),
    (b"2024-01-01 00:00:00", "2024-01-01 00:00:00.000000 UTC"),  # zip_collect, naive: UTC as nbgrader reads it
    (b"2024-06-01 12:30:00+02:00", "2024-06-01 10:30:00.000000 UTC"),  # zip_collect, aware
    (b"2024-06-01T12:30:00.5Z", "2024-06-01 12:30:00.500000 UTC"),
    (b"2024-01-01T00:30-0100", "2024-01-01 01:30:00.000000 UTC"),
    (b"2024-01-01T00:30:00+01", "2023-12-31 23:30:00.000000 UTC"),
    (b"2024-01-01 00:00:00.123456789 GMT", "2024-01-01 00:00:00.123456 UTC"),
])
def test_timestamps_understood_become_nbgraders_format_in_utc(data, expected):
    from nbgrader.utils import parse_utc

    text, problem = parse_timestamp(data)
    assert (text, problem) == (expected, None)
    assert parse_utc(text) == parse_utc(data.decode().strip())


def test_what_nbgrader_writes_is_understood():
    from dateutil.tz import gettz
    from nbgrader.exchange.abc.exchange import Exchange

    now = datetime.datetime.now(gettz("UTC"))
    written = now.strftime(Exchange.timestamp_format.default_value)  # Exchange.set_timestamp
    assert parse_timestamp(written.encode()) == (now.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), None)
    collected = now.replace(tzinfo=None).isoformat(" ")  # ZipCollectApp: data['timestamp'].isoformat(' ')
    assert parse_timestamp(collected.encode())[0] is not None


@pytest.mark.parametrize("data", [
    b"", b" \n", b"2024-01-01 00:00:00 " + b"x" * 60, "2024-01-01 00:00:00 \u00e9".encode(), b"2024-13-01 00:00:00",
    b"2024-01-01 00:00:00 CET", b"2024-01-01 00:00:00 +0100", b"2024-01-01 00:00:00+25:00",
    b"0001-01-01 00:00:00+01:00",
    b"yesterday", b"2024-01-01 00:00:00 \x1b[2J",
])
def test_other_timestamps_are_not_understood_but_the_submission_is_graded(data):
    text, problem = parse_timestamp(data)
    assert text is None and problem.startswith("timestamp.txt not understood (")
    assert "\x1b" not in problem and len(problem) < 200


def test_no_timestamp_file_is_no_problem():
    assert parse_timestamp(None) == (None, None)
