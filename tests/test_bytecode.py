"""The bundle's bytecode (coursetools.grading.bytecode): used beside its own source, never beside another.

A pyc file's code is only run while the source beside it hashes to what the file records: the
test writes bytecode whose header is that of one source and whose code is another's, and shows
that Python runs that code beside the first source and compiles a changed source afresh.
"""
import importlib.util
import marshal
import os
import subprocess
import sys

from coursetools.grading.bytecode import compile_sources, write_bytecode

FILES = {"readonly/__init__.py": b"", "readonly/checking.py": b"VALUE = 1\n", "broken.py": b"def (\n",
         "notes.txt": b"VALUE = 3\n"}


def cache(relative):
    return os.path.relpath(importlib.util.cache_from_source(os.path.join("/x", relative)), "/x")


def value_in(folder):
    """readonly.checking.VALUE as a fresh Python, which may not write bytecode, imports it from folder."""
    done = subprocess.run([sys.executable, "-B", "-c", "import readonly.checking as c; print(c.VALUE)"],
                          cwd=folder, capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_modules_that_compile_get_bytecode_and_nothing_else():
    compiled = compile_sources(FILES)
    assert set(compiled) == {cache("readonly/__init__.py"), cache("readonly/checking.py")}


def test_bytecode_is_written_beside_its_own_file_only(tmp_path):
    (tmp_path / "readonly").mkdir()
    (tmp_path / "readonly" / "checking.py").write_text("VALUE = 1\n")
    (tmp_path / "elsewhere.py").write_text("VALUE = 2\n")
    os.symlink(tmp_path / "elsewhere.py", tmp_path / "linked.py")
    write_bytecode(tmp_path, {**compile_sources(FILES), **compile_sources({"linked.py": b"VALUE = 2\n"}),
                              "../outside/__pycache__/x.cpython-311.pyc": b"", "not-bytecode.txt": b""})
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.pyc"))
    assert written == [cache("readonly/checking.py")]  # no source __init__.py here, a link, a path outside
    assert not (tmp_path.parent / "outside").exists()


def test_python_runs_the_bytecode_beside_its_source_and_never_beside_another(tmp_path):
    (tmp_path / "readonly").mkdir()
    (tmp_path / "readonly" / "__init__.py").write_text("")
    (tmp_path / "readonly" / "checking.py").write_bytes(FILES["readonly/checking.py"])
    bytecode = compile_sources(FILES)
    name = cache("readonly/checking.py")
    # The header of VALUE = 1's bytecode (16 bytes: magic, flags, source hash), the code of VALUE = 2.
    other = compile("VALUE = 2\n", "checking.py", "exec")
    write_bytecode(tmp_path, {**bytecode, name: bytecode[name][:16] + marshal.dumps(other)})
    assert value_in(tmp_path) == 2  # the source's hash matched: Python ran the bytecode, not the source
    (tmp_path / "readonly" / "checking.py").write_text("VALUE = 4\n")  # a learner's file of the same name
    assert value_in(tmp_path) == 4
