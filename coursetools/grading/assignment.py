"""What a worker needs of an assignment, as data that travels with each task.

`bundle` reads it on the client from the instructor's side of the course: nbgrader_config.py,
the assignment's non-notebook source files (the helper and checks modules), the grader's own
check planned from the source notebook, and the assignment's structure in the central gradebook
(its notebooks and cells, whatever database that is).  `private_gradebook` builds a worker's own
SQLite gradebook from that structure, with no student in it: a worker reads nothing of the
course from its own disk.
"""
import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import nbformat
from sqlalchemy import create_engine, text

from coursetools.grading import answers
from coursetools.grading.bytecode import compile_sources
from coursetools.errors import GradingError

#: The SQLite file name of a worker's private gradebook.
PRIVATE_DB = "gradebook.db"


def structure(gradebook, name):
    """The assignment's rows of the gradebook as plain data: the assignment, its notebooks and their cells."""
    from nbgrader.api import MissingEntry

    try:
        assignment = gradebook.find_assignment(name)
    except MissingEntry:
        raise GradingError(f"assignment {name!r} is not in the gradebook: run `nbgrader generate_assignment {name}`"
                           " (with the same database) first") from None
    notebooks = []
    for notebook in assignment.notebooks:
        notebooks.append({
            "name": notebook.name,
            "kernelspec": notebook.kernelspec,  # nbgrader's OverwriteKernelspec runs the submission with it
            "grade_cells": [{"name": c.name, "max_score": c.max_score, "cell_type": c.cell_type}
                            for c in notebook.grade_cells],
            "solution_cells": [{"name": c.name} for c in notebook.solution_cells],
            "task_cells": [{"name": c.name, "max_score": c.max_score, "cell_type": c.cell_type}
                           for c in notebook.task_cells],
            "source_cells": [{"name": c.name, "cell_type": c.cell_type, "locked": c.locked, "source": c.source,
                              "checksum": c.checksum} for c in notebook.source_cells],
        })
    version = gradebook.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"name": name, "duedate": assignment.duedate.isoformat() if assignment.duedate else None,
            "notebooks": notebooks, "alembic_version": version}


def bundle(root, name, gradebook, course_id):
    """Everything a worker needs to grade submissions of assignment name, as plain data (see the module)."""
    source = Path(root) / "source" / name
    notebooks = sorted(source.glob("*.ipynb"))
    files = _source_files(source)
    plans = {path.stem: answers.plan(nbformat.read(path, as_version=4)) for path in notebooks}
    data = {"assignment": name, "course_id": course_id,
            "config": (Path(root) / "nbgrader_config.py").read_text(),
            "files": files, "gradebook": structure(gradebook, name),
            "checks": {notebook: plan for notebook, plan in plans.items() if plan}}
    data["key"] = hashlib.sha256(pickle.dumps(
        {k: v for k, v in data.items() if k != "files"}) + json.dumps(sorted(
            (p, hashlib.sha256(c).hexdigest()) for p, c in files.items())).encode()).hexdigest()
    data["bytecode"] = compile_sources(files)  # made from files, so not in the key
    return data


def _source_files(folder):
    """{relative path: bytes} of the instructor's non-notebook files, links followed (readonly/ is one)."""
    files = {}
    for parent, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".ipynb_checkpoints"))
        for name in sorted(names):
            if not name.endswith((".ipynb", ".pyc")):
                path = os.path.join(parent, name)
                files[os.path.relpath(path, folder)] = Path(path).read_bytes()
    return files


def private_gradebook(structure_, path, course_id, cache=None):
    """Write a SQLite gradebook at path holding the assignment's structure and no student.

    With cache (a folder of the worker's), the gradebook is built there once per structure and
    copied to path after that: building one takes nbgrader's API some 70 ms, copying it 1 ms.
    """
    if cache is None:
        return _build_gradebook(structure_, path, course_id)
    key = hashlib.sha256(json.dumps([structure_, course_id], sort_keys=True).encode()).hexdigest()
    cached = Path(cache) / f"{key}.db"
    if not cached.exists():
        Path(cache).mkdir(parents=True, exist_ok=True)
        building = Path(cache) / f"{key}.{os.getpid()}.building"
        _build_gradebook(structure_, building, course_id)
        os.replace(building, cached)
    shutil.copyfile(cached, path)
    return path


def _build_gradebook(structure_, path, course_id):
    from datetime import datetime

    from nbgrader.api import Gradebook

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as db:  # with this table present, nbgrader does not run `alembic` to find its version
        db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                   {"v": structure_["alembic_version"]})
    engine.dispose()
    name = structure_["name"]
    with Gradebook(f"sqlite:///{path}", course_id) as gradebook:
        duedate = datetime.fromisoformat(structure_["duedate"]) if structure_["duedate"] else None
        gradebook.update_or_create_assignment(name, duedate=duedate)
        for notebook in structure_["notebooks"]:
            gradebook.update_or_create_notebook(notebook["name"], name, kernelspec=notebook.get("kernelspec"))
            for cell in notebook["grade_cells"]:
                gradebook.update_or_create_grade_cell(cell["name"], notebook["name"], name,
                                                      max_score=cell["max_score"], cell_type=cell["cell_type"])
            for cell in notebook["solution_cells"]:
                gradebook.update_or_create_solution_cell(cell["name"], notebook["name"], name)
            for cell in notebook["task_cells"]:
                gradebook.update_or_create_task_cell(cell["name"], notebook["name"], name,
                                                     max_score=cell["max_score"], cell_type=cell["cell_type"])
            for cell in notebook["source_cells"]:
                gradebook.update_or_create_source_cell(cell["name"], notebook["name"], name,
                                                       **{k: cell[k] for k in ("cell_type", "locked", "source",
                                                                               "checksum")})
    return path


def notebook_names(structure_):
    return [notebook["name"] for notebook in structure_["notebooks"]]


def ensure_path():
    """Put this Python's scripts (nbgrader runs `alembic` as a command) first on PATH."""
    import sys

    scripts = os.path.dirname(sys.executable)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
