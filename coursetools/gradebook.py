"""Opening the course's gradebook, whatever its database, and naming it without its password.

Both the grader (`coursetools.grading`) and the class report (`coursetools.report`) open it here.
"""
from coursetools.errors import GradingError


def open_gradebook(db_url, course_id):
    """nbgrader's Gradebook on db_url; a database that cannot be reached is a GradingError saying which."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return Gradebook(db_url, course_id)
    except SQLAlchemyError as problem:
        reason = str(getattr(problem, "orig", None) or problem).strip().splitlines()[0]
        raise GradingError(f"cannot open the gradebook {shown_url(db_url)}: {reason}") from None


def shown_url(db_url):
    """db_url without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show it, it holds no password we could find
        return db_url
