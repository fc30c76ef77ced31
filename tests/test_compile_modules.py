"""The instructor's modules get their bytecode before the kernel starts; a learner's file never does (no kernel)."""
import importlib.util
import os

from coursetools.grading.execute import compile_modules


def test_listed_modules_get_bytecode_and_nothing_else_is_compiled(tmp_path):
    (tmp_path / "readonly").mkdir()
    (tmp_path / "readonly" / "checking.py").write_text("VALUE = 1\n")
    (tmp_path / "learner.py").write_text("VALUE = 2\n")
    (tmp_path / "broken.py").write_text("def (\n")
    os.symlink(tmp_path / "learner.py", tmp_path / "readonly" / "linked.py")
    compile_modules(str(tmp_path), ["readonly/checking.py", "readonly/linked.py", "broken.py", "missing.py"])
    assert os.path.isfile(importlib.util.cache_from_source(str(tmp_path / "readonly" / "checking.py")))
    for name in ("learner.py", "readonly/linked.py", "broken.py"):  # not listed, a link, a syntax error
        assert not os.path.exists(importlib.util.cache_from_source(str(tmp_path / name))), name

