"""The rule for the notebooks' pictures while nbgrader runs a notebook: draw nothing.

nbgrader sets NBGRADER_EXECUTION while it runs a notebook to grade or validate it.  A picture
only shows the learner what their code does: no test reads a figure, and a drawing function
reads its arguments and this package's data only, changes nothing another cell reads, and draws
no random numbers.  So a function wrapped in `picture` does nothing then (it prints one line
saying so and returns None), and every graded cell sees the same values as when the picture is
drawn (tests/test_pictures_skipped.py runs each notebook both ways and compares).  Drawing is most
of what a graded run of the heights notebook costs; matplotlib is imported by `pyplot()` on
first use, so a graded run does not import it either.  Importing this module has no side effects.
"""
import functools
import os

#: What a skipped picture prints in the graded notebook, where the figure would be.
SKIPPED = "(This picture is drawn when you run the notebook yourself; grading skips it.)"


def graded():
    """Whether nbgrader is running this notebook (to grade or validate it)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def picture(draw):
    """draw, made to print SKIPPED and return None without drawing while graded()."""
    @functools.wraps(draw)
    def drawn_unless_graded(*args, **kwargs):
        if graded():
            print(SKIPPED)
            return None
        return draw(*args, **kwargs)

    return drawn_unless_graded


def pyplot():
    """matplotlib.pyplot, imported on first use (about 0.4 CPU-s), so that a graded run never imports it."""
    import matplotlib.pyplot

    return matplotlib.pyplot
