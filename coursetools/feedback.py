"""Feedback that teaches: a failing test's message comes first, and hidden tests can keep their code to themselves.

TeachingFeedback is a preprocessor for stock `nbgrader generate_feedback`,
switched on in nbgrader_config.py. For every test cell with an error it puts
the error's message (what was expected, what came back, the likely cause)
above the traceback. With ``withhold_hidden_tests`` it also removes the code
of hidden tests and their tracebacks from the feedback, keeping the message,
so learners learn what went wrong without seeing the hidden cases; of what a
hidden test cell printed, only that message is kept.  A notebook can record the
cells it runs, hidden tests included (an IPython hook), and print them in any
later cell: so every output of every cell that holds a line of a hidden test is
withheld too.  (What it prints in another form is no use to it: the grader's own
check draws its cases for each grading, so a function that knows the hidden
cases still loses the points it does not earn.)
"""
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


def message_of(error):
    """The lines a learner should read first for an error output."""
    if error.ename == "CheckFailed":
        return error.evalue.splitlines()
    return f"{error.ename}: {error.evalue}".splitlines()


class TeachingFeedback(NbGraderPreprocessor):
    """Put each failing test's message first; optionally withhold hidden tests' code."""

    withhold_hidden_tests = Bool(
        False, help="Show hidden test cells without their code or traceback, keeping their message."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        self._hidden = hidden_lines(nb) if self.withhold_hidden_tests else set()
        return super().preprocess(nb, resources)

    def _leaks(self, output):
        return any(line in text for text in _texts(output) for line in self._hidden)

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
                output.traceback = message
            else:
                output.traceback = [*message, "", "Where it happened:", *output.traceback]
        return cell, resources
