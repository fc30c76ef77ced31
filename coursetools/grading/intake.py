"""What the client reads of `submitted/`: which folders are submissions, their files within limits, their timestamp.

Names are listed as bytes (one that is not UTF-8 is a refusal, not a crash) and are student ids only
if `refusal` allows; no link below `submitted/` is followed; sizes are checked from `lstat` before
any byte is read; only regular files are opened, without following links or blocking; timestamp.txt
is parsed here, so that nbgrader in the worker (which hands a time zone name to dateutil's `gettz`,
a file lookup) only ever parses our text.  Stdlib only.
"""
import contextlib
import datetime
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import NamedTuple, Optional

from coursetools.grading.files import walk

MAX_ID = 128  # nbgrader's columns for ids are VARCHAR(128)
#: What one submission folder may hold: files (entries of any kind but folders: files, links, ...), and
#: bytes (every entry's size, folders' own too).  Folders are counted apart, to MAX_FOLDERS: a tree of
#: folders is cheap to walk, and nbgrader's own `readonly/` copy makes 100 files and a folder ordinary.
MAX_FILES, MAX_BYTES, MAX_FOLDERS = 100, 32 * 2 ** 20, 2000
SHOWN = 80  # the longest printable form of a name in a message
TIMESTAMP, MAX_TIMESTAMP = "timestamp.txt", 64

#: C0, DEL, C1, line separators, bidirectional controls and marks.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
#: A cell starting with one of these is a formula in a spreadsheet opening nbgrader's CSV export.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
#: nbgrader puts the student id into glob patterns unescaped (`submitted/{student_id}/...`).
_GLOB = re.compile(r"[*?\[\]]")
_SHOWN_TOKEN = re.compile(r"\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\\\|.", re.S)
_TIMESTAMP_TEXT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(?: ?(UTC|GMT)|(Z)|([+-])([01]\d|2[0-3])(?::?([0-5]\d))?)?", re.ASCII)


class Submission(NamedTuple):  # folder: root/submitted/<student>/<assignment>
    assignment: str
    student: str
    folder: Path


class Refused(NamedTuple):  # assignment None for a student folder; name: its path under submitted/, shown
    assignment: Optional[str]
    name: str
    reason: str


class Read(NamedTuple):
    """files: {relative path (str, surrogate-escaped): bytes} of the regular files; digest: hex SHA-256
    of names, link targets and contents; left_out: `shown` paths not read (links, FIFOs, sockets,
    devices, files changed since the walk; "." if the folder is not a folder); too_large: None, or
    what was found past the limits (then files is empty: no byte was read)."""
    files: dict
    digest: str
    left_out: list
    too_large: Optional[str]


def refusal(name):
    """Why name (bytes or str: a folder's name under submitted/) cannot be a student id; None if it can:
    if it is UTF-8 (bytes that decode strictly and map back to themselves, a str without lone
    surrogates) and none of _RULES is broken (leading '.' covers '.', '..' and the grader's files)."""
    try:
        text = name.decode("utf-8") if isinstance(name, bytes) else str(name)
        text.encode("utf-8")
    except UnicodeError:
        return "its name is not UTF-8"
    if isinstance(name, bytes) and os.fsencode(text) != name:
        return "its name does not survive the file system's encoding"
    return next((why for broken, why in _RULES if broken(text)), None)


_RULES = (
    (lambda text: not text, "its name is empty"),
    (_CONTROL.search, "its name holds control characters"),
    (lambda text: not text.isprintable(), "its name holds characters that are not printable (format marks, "
                                          "unassigned code points, separators other than a space)"),
    (lambda text: "/" in text, "its name holds a '/'"),
    (lambda text: text.startswith("."), "its name starts with '.' (hidden, or one of the grader's own files)"),
    (lambda text: text.startswith(_FORMULA), "its name starts with = + - or @ (a spreadsheet formula)"),
    (_GLOB.search, "its name holds * ? [ or ], which nbgrader's file patterns (glob) would misread"),
    (lambda text: len(text) > MAX_ID, f"its name is longer than {MAX_ID} characters (nbgrader's limit for an id)"),
)


def shown(name, limit=SHOWN):
    """A printable form of any name (bytes or str), at most limit characters: bytes that are not
    UTF-8 as \\xNN, characters that are not printable (str.isprintable) as \\xNN, \\uNNNN or \\UNNNNNNNN,
    a backslash as \\\\, cut with '…'."""
    head = name[:4 * limit + 4] if isinstance(name, bytes) else str(name)[:limit + 1]
    try:
        raw = head if isinstance(head, bytes) else head.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no bytes name could give
        raw = head.encode("utf-8", "backslashreplace")
    text = raw.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in text)
    if len(text) <= limit:
        return text
    cut = ""
    for token in _SHOWN_TOKEN.findall(text[:limit + 8]):  # never half an escape
        if len(cut) + len(token) >= limit:
            return cut + "…"
        cut += token


def find_submissions(root, assignments, students=None):
    """([Submission], [Refused]) under root/submitted/ (root: str or Path) for assignments ([name]) and
    students (a set of ids, None for all).  Accepted by assignment (as given) then student; refused one
    per student folder that is a link or whose name `refusal` refuses, and per assignment folder that is
    a link or not a folder.  Entries of submitted/ that are neither folders nor links are skipped."""
    submitted = os.path.join(os.fsencode(root), b"submitted")
    try:
        names = sorted(os.listdir(submitted))
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    accepted, refused = [], []
    for name in names:
        kind = _kind(os.path.join(submitted, name))
        if kind not in ("folder", "link") or students is not None and os.fsdecode(name) not in students:
            continue
        reason = _NOT_A_FOLDER["link"] if kind == "link" else refusal(name)
        if reason:
            refused.append(Refused(None, shown(name), reason))
            continue
        student = name.decode("utf-8")
        for assignment in assignments:
            folder = os.path.join(submitted, name, os.fsencode(assignment))
            kind = _kind(folder)
            if kind == "folder":
                accepted.append(Submission(assignment, student, Path(os.fsdecode(folder))))
            elif kind is not None:
                refused.append(Refused(assignment, shown(f"{student}/{assignment}"), _NOT_A_FOLDER[kind]))
    order = {name: number for number, name in enumerate(assignments)}
    accepted.sort(key=lambda s: (order[s.assignment], s.student))
    return accepted, refused


_NOT_A_FOLDER = {"link": "it is a link (links are not followed)", "other": "it is not a folder"}


def _kind(path):  # "folder", "link", "other" or None (missing), links not followed
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    return "link" if stat.S_ISLNK(mode) else "folder" if stat.S_ISDIR(mode) else "other"


def read_submission(folder, max_files=MAX_FILES, max_bytes=MAX_BYTES):
    """A Read of folder (str or Path).  One walk (iterative, links not followed) counts every entry but
    folders against max_files, folders against MAX_FOLDERS, and every entry's larger of apparent (st_size) and allocated (st_blocks * 512) size, the
    folder's own too, against max_bytes, and stops past a limit, before any byte is read.  Then each
    regular file is read if it is still the one the walk saw.  digest is files.digest_folder's."""
    folder = os.fspath(folder)
    if _kind(folder) != "folder":
        return Read({}, hashlib.sha256(b"not a folder").hexdigest(), ["."], None)
    seen, total, folders = [], _size(os.lstat(folder)), 0
    for relative, info in walk(folder):
        seen.append((relative, info))
        total += _size(info)
        folders += stat.S_ISDIR(info.st_mode)
        if len(seen) - folders > max_files or folders > MAX_FOLDERS or total > max_bytes:
            too_large = (f"more than {max_files} files" if len(seen) - folders > max_files else
                         f"more than {MAX_FOLDERS} folders" if folders > MAX_FOLDERS else
                         f"more than {max_bytes / 2 ** 20:g} MiB ({total / 2 ** 20:,.1f} MiB found before stopping)")
            return Read({}, _metadata_digest(seen), [], too_large)
    files, left_out, digest = {}, [], hashlib.sha256()
    for relative, info in sorted(seen, key=lambda item: item[0]):
        digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
        path = os.path.join(folder, relative)
        if stat.S_ISLNK(info.st_mode):
            with contextlib.suppress(OSError):
                digest.update(b"link:" + os.readlink(path).encode("utf-8", "surrogateescape"))
        content = _read_regular(path, info) if stat.S_ISREG(info.st_mode) else None
        if content is not None:
            files[relative] = content
            digest.update(hashlib.sha256(content).digest())
        elif not stat.S_ISDIR(info.st_mode):
            left_out.append(shown(relative))
    return Read(files, digest.hexdigest(), left_out, None)


def _size(info):
    return max(info.st_size, getattr(info, "st_blocks", 0) * 512)


def _metadata_digest(seen):  # of a folder found too large: from what the walk saw, no byte read
    return hashlib.sha256(b"too large\0" + b"".join(relative.encode("utf-8", "surrogateescape") + b"\0%d:%d:%d:%d\0" % (
        i.st_mode, i.st_size, i.st_blocks, i.st_mtime_ns) for relative, i in seen)).hexdigest()


def _same(now, info):  # still the regular file, of the same size, that the walk saw
    return stat.S_ISREG(now.st_mode) and (now.st_dev, now.st_ino, now.st_size) == (info.st_dev, info.st_ino,
                                                                                   info.st_size)


def _read_regular(path, info):
    """The bytes of the file at path if it is still the one info describes, else None; with /proc, checked
    first through a bare handle (O_PATH: no device or FIFO is opened), then opened through that handle."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        if hasattr(os, "O_PATH") and os.path.isdir("/proc/self/fd"):
            handle = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                if not _same(os.fstat(handle), info):
                    return None
                descriptor = os.open(f"/proc/self/fd/{handle}", flags)
            finally:
                os.close(handle)
        else:
            descriptor = os.open(path, flags | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        if not _same(os.fstat(descriptor), info):
            return None
        chunks, wanted = [], info.st_size + 1  # one more: a file grown since the walk is seen
        while wanted > 0 and (chunk := os.read(descriptor, wanted)):
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks) if wanted == 1 else None
    except OSError:
        return None
    finally:
        os.close(descriptor)


def parse_timestamp(data):
    """(text, problem) for data, the bytes of timestamp.txt or None.  text: nbgrader's format in UTC
    ("2024-01-01 00:00:00.123456 UTC") or None; problem: None or why it was not understood.  Understood:
    <= MAX_TIMESTAMP bytes of ASCII, "YYYY-MM-DD HH:MM[:SS[.f]]" ('T' or ' ') then nothing (UTC, as
    nbgrader reads it), " UTC", " GMT", "Z", "+HH:MM", "+HHMM" or "+HH": what nbgrader writes."""
    if data is None:
        return None, None
    text = data[:MAX_TIMESTAMP].strip().decode("ascii", "replace")
    match = _TIMESTAMP_TEXT.fullmatch(text)
    why = ("longer than 64 bytes" if len(data) > MAX_TIMESTAMP else "empty" if not text else "not ASCII"
           if not data.isascii() else "expected e.g. 2024-01-01 00:00:00.123456 UTC" if not match else None)
    if why is None:
        year, month, day, hour, minute, second, fraction, _, _, sign, hours, minutes = match.groups()
        try:
            moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                                       int((fraction or "0")[:6].ljust(6, "0")))
            if sign:
                moment -= (1 if sign == "+" else -1) * datetime.timedelta(hours=int(hours), minutes=int(minutes or 0))
            return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}:"
                    f"{moment.second:02d}.{moment.microsecond:06d} UTC"), None
        except (ValueError, OverflowError) as error:
            why = f"not a time: {error}"
    return None, f'{TIMESTAMP} not understood ({why}): "{shown(text, 40)}"; graded without a submission time'
