"""The journal of graded submissions: one `Outcome` a line, what makes a run resumable and what the report reads.

Each gradebook has a journal of its own, `.coursetools/journals/<key>.jsonl` in the course folder
(key: a digest of the gradebook's URL without its password), outside `autograded/`, whose names
are student ids.  A line is appended (and synced) once the submission's grades are committed to
that gradebook, so a run into another gradebook grades what that one lacks.  A run skips the
submissions whose last line has the same fingerprint (the same files and the same source); a torn
last line, from a run killed while writing it, is ignored, and the next append starts a line of its own.
"""
import hashlib
import os
from pathlib import Path

from coursetools.outcome import Outcome

FOLDER = Path(".coursetools") / "journals"


def key_of(db_url):
    """The journal's key of a gradebook: a digest of its URL, the password left out."""
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # not a URL: the text itself
        shown = str(db_url)
    return hashlib.sha256(shown.encode()).hexdigest()[:16]


def path_of(root, db_url=None):
    """The journal of the gradebook at db_url (default: the course's own), in the course folder root."""
    if db_url is None:
        from coursetools.course import settings

        db_url = settings(root)[1]
    return Path(root) / FOLDER / f"{key_of(db_url)}.jsonl"


def read(root, db_url=None):
    """{(assignment, student): the last Outcome} of the gradebook's journal."""
    outcomes = {}
    path = path_of(root, db_url)
    if path.is_file():
        with open(path, "rb") as lines:
            for line in lines:
                try:
                    outcome = Outcome.from_json(line)
                except ValueError:
                    continue
                outcomes[(outcome.assignment, outcome.student)] = outcome
    return outcomes


def append(root, db_url, outcomes):
    """Append outcomes to the gradebook's journal and sync it to disk."""
    if not outcomes:
        return
    path = path_of(root, db_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as journal:  # appends go to the end, wherever it last read
        end = journal.seek(0, os.SEEK_END)
        if end:
            journal.seek(end - 1)
        torn = end > 0 and journal.read(1) != b"\n"
        text = "".join(outcome.to_json() + "\n" for outcome in outcomes).encode()
        journal.write(b"\n" + text if torn else text)  # a torn line ends before the first new outcome
        journal.flush()
        os.fsync(journal.fileno())
