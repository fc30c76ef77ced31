"""The journal of graded submissions, `autograded/.grade-journal.jsonl`: what makes a run resumable.

One JSON line per submission, appended (and synced) once its grades are committed to the
gradebook.  A run skips the submissions whose last line has the same fingerprint (the same
files and the same source); a torn last line, from a run killed while writing it, is ignored.
Everything in a line that came from a submission (its student id, the problems its notebook
caused) is made safe for a terminal and cut to a bounded length before it is written.
"""
import json
import os
import re
from pathlib import Path

JOURNAL = ".grade-journal.jsonl"
#: The longest text a journal line or report keeps from one problem.
MAX_TEXT = 400
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(text, limit=MAX_TEXT):
    """text with control characters (escape codes, newlines, bidirectional marks) shown as \\xNN, and cut to limit."""
    shown = _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


def path_of(root):
    return Path(root) / "autograded" / JOURNAL


def read(root):
    """{(assignment, student): the last record} of the journal."""
    records = {}
    path = path_of(root)
    if path.exists():
        with open(path, errors="replace") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                    records[(record["assignment"], record["student"])] = record
                except (ValueError, KeyError, TypeError):
                    continue
    return records


def append(root, records):
    """Append records (dicts) to the journal and sync it to disk."""
    if not records:
        return
    path = path_of(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as journal:
        journal.write("".join(json.dumps(record) + "\n" for record in records))
        journal.flush()
        os.fsync(journal.fileno())
