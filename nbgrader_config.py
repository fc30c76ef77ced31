"""nbgrader settings for this course; the course root is this folder."""

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "calculus-for-ml"

# What the learner sees where the solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Seconds one cell may run under autograde before it is stopped (an endless loop
# then costs that cell its points, not the whole class its grading).
c.Execute.timeout = 120
