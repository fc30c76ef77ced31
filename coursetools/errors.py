"""The one exception type of the grader: what it cannot do, said so that an instructor can act on it.

Only the command line (`coursetools.grading.cli`) turns it into an exit status.
"""


class GradingError(Exception):
    """The class cannot be graded as asked (no sandbox, no database, a bad student id, ...)."""
