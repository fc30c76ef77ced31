"""nbgrader's Gradebooks share one engine per private gradebook (coursetools.grading.engines), and see its file as it is now."""
import shutil

import pytest
from nbgrader.api import Gradebook, MissingEntry

from coursetools.grading.engines import engine_for, private_gradebook_path, shared_engine


def test_gradebooks_of_one_url_share_an_engine_inside_a_block_only(tmp_path):
    url, other = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    with shared_engine(url):
        with Gradebook(url) as first, Gradebook(url) as second, Gradebook(other) as elsewhere:
            assert first.engine is second.engine  # nbgrader made it through engine_for
            assert elsewhere.engine is not first.engine
        kept = first.engine
    with Gradebook(url) as outside:
        assert outside.engine is not kept
        outside.engine.dispose()
    with shared_engine(url), Gradebook(url) as again:
        assert again.engine is kept  # its compiled statements are kept for the next submission


def test_each_block_sees_the_file_made_for_it(tmp_path):
    path = private_gradebook_path(tmp_path)
    url = f"sqlite:///{path}"
    for student, template in (("first", "t1.db"), ("second", "t2.db")):
        with Gradebook(f"sqlite:///{tmp_path / template}") as gradebook:
            gradebook.add_student(student)
            gradebook.engine.dispose()
    for student, template, gone in (("first", "t1.db", "second"), ("second", "t2.db", "first")):
        shutil.copyfile(tmp_path / template, path)
        with shared_engine(url), Gradebook(url) as gradebook:
            assert gradebook.find_student(student).id == student
            with pytest.raises(MissingEntry):
                gradebook.find_student(gone)
        path.unlink()  # as a worker does after each submission: no connection was left on it


def test_a_url_is_in_one_block_at_a_time_and_other_urls_get_their_own_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with shared_engine(url):
        with pytest.raises(RuntimeError), shared_engine(url):
            pass
        assert engine_for(url) is engine_for(url)
        assert engine_for(f"sqlite:///{tmp_path / 'b.db'}") is not engine_for(f"sqlite:///{tmp_path / 'b.db'}")
