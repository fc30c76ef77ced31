"""Feedback that teaches: a failing test's message comes first, and hidden tests can keep their code to themselves.

TeachingFeedback is a preprocessor for stock `nbgrader generate_feedback`,
switched on in nbgrader_config.py. For every test cell with an error it shows
the error's message (what was expected, what came back, the likely cause) once,
first: a failed check's message alone (as the notebook shows it, see
`readonly.checking.CheckFailed`), any other error's message above its
traceback, in which the grader's folders are left out of the file names.
With ``withhold_hidden_tests`` it also removes the code
of hidden tests and their tracebacks from the feedback, keeping the message,
so learners learn what went wrong without seeing the hidden cases; of what a
hidden test cell printed, only that message is kept.  A notebook can record the
cells it runs, hidden tests included (an IPython hook), and print them in any
later cell: so every output of every cell that holds a line of a hidden test is
withheld too.  (What it prints in another form is no use to it: the grader's own
check draws its cases for each grading, so a function that knows the hidden
cases still loses the points it does not earn.)
"""
import re

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool

BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
WITHHELD = "# The code of the hidden tests is withheld; their message is below."


def without_hidden_tests(source):
    """source with each hidden-test region replaced by one comment line."""
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN_HIDDEN:
            inside = True
            lines.append(WITHHELD)
        elif line.strip() == END_HIDDEN:
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines)


#: Lines of hidden tests shorter than this are not looked for in outputs (a bare "try:" is in any code).
MIN_HIDDEN_LINE = 12
WITHHELD_OUTPUT = "[output withheld from the feedback: it holds the code of a hidden test]\n"


def hidden_lines(nb):
    """The lines of nb's hidden-test regions worth looking for in outputs."""
    found = set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines() if cell.cell_type == "code" else ():
            if line.strip() in (BEGIN_HIDDEN, END_HIDDEN):
                inside = line.strip() == BEGIN_HIDDEN
            elif inside and len(line.strip()) >= MIN_HIDDEN_LINE:
                found.add(line.strip())
    return found


def _texts(output):
    """Every text an output holds: a stream's, an error's name, value and traceback, each data value."""
    yield str(output.get("text", ""))
    yield str(output.get("ename", "")) + str(output.get("evalue", ""))
    yield "\n".join(str(line) for line in output.get("traceback", []) or [])
    for value in (output.get("data") or {}).values():
        yield "".join(value) if isinstance(value, list) else str(value)


#: The most of one error's message that the feedback of a hidden test shows.
MAX_HIDDEN_MESSAGE = 2000


#: The folders of a file name in a traceback that are the grader's, not the learner's: everything up to the
#: submission's own folder (.../autograded/<student>/<assignment>/), or to an installation's site-packages/.
_FOLDER = r"[^\s/:'\"\x1b]+"
_GRADER_FOLDERS = re.compile(rf"(?:/{_FOLDER})*/(?:autograded/{_FOLDER}/{_FOLDER}/|(?=site-packages/))")


#: Escape sequences (CSI, OSC, two-character) and characters a page shows as nothing: control characters but
#: line breaks and tabs, and Unicode's format characters (zero-width spaces and joiners, direction marks).
_UNSEEN = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|"
                     r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff"
                     r"\ufff9-\ufffb]")


def plain(text):
    """text as a page shows it: without colour codes and other escape sequences, and characters shown as nothing."""
    return _UNSEEN.sub("", str(text))


def without_grader_folders(line):
    """A traceback line with the grader's folders left out of its file names (see _GRADER_FOLDERS)."""
    return _GRADER_FOLDERS.sub("", str(line))


def message_of(error):
    """The lines a learner should read first for an error output.

    A failed check's whole message: the traceback the notebook showed, when it is that message (IPython
    shows a CheckFailed as its message alone), else the error's value (which the grader may have cut short).
    """
    if error.ename == "CheckFailed":
        value = str(error.evalue).splitlines()
        shown = [str(line) for line in error.get("traceback", []) or []]
        if value and shown and plain(shown[0]) == value[0] and "Traceback" not in plain("".join(shown)):
            return shown
        return value
    return f"{error.ename}: {error.evalue}".splitlines()


def _at_most(lines, characters):
    """The first lines, cut so that together they hold at most characters characters."""
    kept = []
    for line in lines:
        if characters <= 0:
            break
        kept.append(line[:characters])
        characters -= len(line)
    return kept


def where_it_happened(error):
    """An error's traceback, without its last line when that repeats the message, and without the grader's folders."""
    lines = [without_grader_folders(line) for line in error.get("traceback", []) or []]
    if lines and plain(lines[-1]).strip() == f"{error.ename}: {error.evalue}".splitlines()[0].strip():
        lines = lines[:-1]
    return lines


class TeachingFeedback(NbGraderPreprocessor):
    """Put each failing test's message first; optionally withhold hidden tests' code."""

    withhold_hidden_tests = Bool(
        False, help="Show hidden test cells without their code or traceback, keeping their message."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        self._hidden = hidden_lines(nb) if self.withhold_hidden_tests else set()
        return super().preprocess(nb, resources)

    def _leaks(self, output):
        """Whether output shows a hidden line, also where colour codes or invisible characters split it."""
        return any(line in plain(text) for text in _texts(output) for line in self._hidden)

    def preprocess_cell(self, cell, resources, index):
        if self._hidden and cell.cell_type == "code":
            cell.outputs = [output if not self._leaks(output) else
                            new_output("stream", name="stdout", text=WITHHELD_OUTPUT)
                            for output in cell.outputs]
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not grading.get("grade"):
            return cell, resources
        withhold = self.withhold_hidden_tests and BEGIN_HIDDEN in cell.source
        if withhold:
            cell.source = without_hidden_tests(cell.source)
            cell.outputs = [output for output in cell.outputs if output.output_type == "error"][:1]
            for output in cell.outputs:
                output.evalue = str(output.evalue)[:MAX_HIDDEN_MESSAGE]
        for output in cell.outputs:
            if output.output_type != "error":
                continue
            message = message_of(output)
            if withhold:
                message = _at_most(message, MAX_HIDDEN_MESSAGE)
            where = [] if withhold or output.ename == "CheckFailed" else where_it_happened(output)
            output.traceback = [*message, "", "Where it happened:", *where] if where else message
        return cell, resources
