"""Feedback that teaches: a failing test's message comes first, and hidden tests can keep their code to themselves.

TeachingFeedback is a preprocessor for stock `nbgrader generate_feedback`,
switched on in nbgrader_config.py. For every test cell with an error it puts
the error's message (what was expected, what came back, the likely cause)
above the traceback. With ``withhold_hidden_tests`` it also removes the code
of hidden tests and their tracebacks from the feedback, keeping the message,
so learners learn what went wrong without seeing the hidden cases; of what a
hidden test cell printed, only that message is kept (a notebook can print the
cells it runs, hidden tests included, from an IPython hook).
"""
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

    def preprocess_cell(self, cell, resources, index):
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
