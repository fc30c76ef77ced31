"""nbgrader settings for this course; the course root is this folder."""
import os
import sys

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coursetools.feedback import TeachingFeedback  # noqa: E402
from coursetools.grading.stock import autograde_preprocessors  # noqa: E402

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "calculus-for-ml"

# What the learner sees where the solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Seconds one cell may run under autograde before it is stopped. The checks
# stop a learner's function after 5 s themselves; this catches the rest.
c.Execute.timeout = 60

# Stock `nbgrader autograde` and the formgrader's Autograde button run students' code in the
# sandbox of `make grade` (coursetools/grading/stock.py: nbgrader's Execute step, its kernel in
# bubblewrap), or refuse where none can be made. `make grade` sets its own steps over this one.
c.Autograde.autograde_preprocessors = autograde_preprocessors()

# Feedback: each failing test's message first; hidden tests keep their code to
# themselves (set withhold_hidden_tests to False to show it).
c.GenerateFeedback.preprocessors = [GetGrades, TeachingFeedback, CSSHTMLHeaderPreprocessor]
# Formulas drawn as MathML when the page is written: the feedback loads nothing from the network.
c.GenerateFeedback.exporter_class = "coursetools.offline_math.OfflineMathExporter"
c.TeachingFeedback.withhold_hidden_tests = True
