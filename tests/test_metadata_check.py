"""CheckMetadata (coursetools.grading.metadata) answers every notebook as nbgrader's CheckCellMetadata does.

The oracle is nbgrader's own step, run on the same notebook: both pass, or both raise the same
error with the same message.  Cells are generated around nbgrader's schema: its keys with values
of every JSON type, extra keys, other schema versions, metadata that is no mapping at all.
"""
import copy

import nbformat
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import CheckCellMetadata

from coursetools.grading.metadata import CheckMetadata, FastMetadataValidator, schema_validator

KEYS = ["schema_version", "grade", "solution", "locked", "task", "points", "grade_id", "cell_type", "checksum"]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 5), st.floats(allow_nan=False, width=16),
                   st.sampled_from(["", "a", "code", "markdown", "cell-1", "x y"]), st.lists(st.integers(0, 3), max_size=2))
GOOD = {"schema_version": 3, "grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "t1"}


def metadata():
    changed = st.dictionaries(st.sampled_from(KEYS + ["extra"]), VALUES, max_size=4)
    removed = st.sets(st.sampled_from(KEYS), max_size=2)
    return st.tuples(changed, removed).map(lambda pair: {**{k: v for k, v in GOOD.items() if k not in pair[1]},
                                                          **pair[0]})


def notebook(cells):
    nb = nbformat.v4.new_notebook()
    for kind, meta in cells:
        cell = (nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell)("x = 1")
        if meta is not None:
            cell.metadata["nbgrader"] = meta
        nb.cells.append(cell)
    return nb


def answer(step, nb):
    """What step (a preprocessor, or a validator) says of nb: None, or the error's type and message."""
    try:
        if hasattr(step, "validate_nb"):
            step.validate_nb(copy.deepcopy(nb))
        else:
            step.preprocess(copy.deepcopy(nb), {})
    except Exception as error:  # the oracle's answer, whatever it is
        return type(error), str(error)
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["code", "markdown"]), st.one_of(st.none(), metadata())), max_size=4))
@example([("code", GOOD), ("code", {**GOOD, "grade_id": "t1"})])  # a duplicate grade id
@example([("markdown", {**GOOD, "solution": False})])  # a markdown grade cell that is no solution
@example([("code", {**GOOD, "schema_version": 2})])  # an older schema: nbgrader's own message
@example([("code", {**GOOD, "points": "two"})])  # the schema's own error
@example([("code", {**GOOD, "points": "two", "grade": 1, "locked": None})])  # several: the best match is raised
def test_check_metadata_answers_as_nbgrader_does(cells):
    nb = notebook(cells)
    assert answer(CheckMetadata(), nb) == answer(CheckCellMetadata(), nb)
    # The step logs the validator's error and raises its own message: compare the validator's too.
    assert answer(FastMetadataValidator(), nb) == answer(MetadataValidator(), nb)


@pytest.mark.parametrize("meta", [[1, 2], "grade", 3])
def test_metadata_that_is_no_mapping_fails_as_in_nbgrader(meta):
    nb = notebook([("code", meta)])
    assert answer(CheckMetadata(), nb) == answer(CheckCellMetadata(), nb) != None  # noqa: E711


def test_the_schema_is_checked_once_and_the_validator_kept(monkeypatch):
    assert schema_validator(3) is schema_validator(3)
    with pytest.raises(ValueError):
        schema_validator(99)
    kind, checks = type(schema_validator(3)), []
    original = kind.check_schema
    monkeypatch.setattr(kind, "check_schema", classmethod(lambda cls, schema, *rest, **named: (
        checks.append(1), original(schema, *rest, **named))[1]))
    nb = notebook([("code", {**GOOD, "grade_id": f"t{number}"}) for number in range(20)])
    assert answer(CheckMetadata(), nb) is None and checks == []  # the validator made before is used
    assert answer(CheckCellMetadata(), nb) is None and len(checks) >= 20  # nbgrader's step: once a cell
