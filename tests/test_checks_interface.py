"""What a checks module is: the four functions readonly/interface.py declares, no plotting code, and imported afresh
by each test cell together with the modules it is made of."""
import inspect
import subprocess
import sys
import textwrap
import types

import pytest
from conftest import REPO

from coursetools.errors import GradingError
from coursetools.grading.answers import checks_from
from readonly import backprop_checks, heights_checks
from readonly.interface import FUNCTIONS, ChecksModule, missing

CHECKS_MODULES = {"backprop": backprop_checks, "heights": heights_checks}


def run_python(code):
    """Run code in a fresh interpreter in the repository; its stdout, failing the test if it fails."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("module", ["readonly.backprop_checks", "readonly.heights_checks"])
def test_a_checks_module_imports_no_plotting_code(module):
    assert run_python(f"import sys, {module}\nprint('matplotlib' in sys.modules)").strip() == "False"


def test_the_interface_declares_the_four_functions_the_grader_calls():
    assert FUNCTIONS == ("answer", "judge", "grader_cases", "check")


@pytest.mark.parametrize("assignment", CHECKS_MODULES)
def test_each_checks_module_provides_the_interface(assignment):
    module = CHECKS_MODULES[assignment]
    assert isinstance(module, ChecksModule) and missing(module) == []
    for name in FUNCTIONS:
        declared = list(inspect.signature(getattr(ChecksModule, name)).parameters)[1:]  # without self
        assert list(inspect.signature(getattr(module, name)).parameters) == declared, name


def test_a_module_without_the_functions_does_not_provide_the_interface():
    partial = types.ModuleType("partial_checks")
    partial.answer, partial.check, partial.judge = (lambda namespace, name, case: []), None, "judge"
    assert not isinstance(partial, ChecksModule)
    assert missing(partial) == ["judge", "grader_cases", "check"]


def test_the_grader_refuses_a_checks_module_without_the_interface(tmp_path):
    (tmp_path / "readonly").mkdir()
    for name in ("__init__.py", "interface.py"):
        (tmp_path / "readonly" / name).write_text((REPO / "readonly" / name).read_text())
    (tmp_path / "readonly" / "half_checks.py").write_text("def answer(namespace, name, case):\n    return []\n\n"
                                                          "def check(namespace, name, cases):\n    pass\n")
    before = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "readonly"}
    with pytest.raises(GradingError, match="readonly.half_checks lacks judge, grader_cases:"):
        with checks_from(tmp_path, "readonly.half_checks"):
            pass
    with checks_from(REPO / "source" / "heights", "readonly.heights_checks") as checks:
        assert checks.grader_cases(3) == heights_checks.grader_cases(3)
    assert {name: module for name, module in sys.modules.items() if name.split(".")[0] == "readonly"} == before


def test_run_test_binds_the_checks_module_to_fresh_guards_checking_and_gradients():
    """A notebook that switched a guard off before a test cell: run_test imports the guards afresh, so a complex
    step is still seen, and the checks module, the guards and checking share one CheckFailed; the modules the
    checks are made of (its PARTS, readonly.learner_errors) are fresh too."""
    out = run_python("""
        import readonly.checking as checking, readonly.gradients as gradients, readonly.guards as guards
        from readonly import heights_checks, heights_mistakes, learner_errors
        old = (guards.Watch, checking.CheckFailed, gradients.relative_error, heights_mistakes.diagnose_step,
               learner_errors.raised)
        guards.Watch.refuse = lambda self, what, kind: None  # what a notebook could do before a test cell
        namespace = {}
        exec("def dfdmu(x, mu, sig):\\n    return f(x, mu + 1e-20j, sig).imag / 1e-20", namespace)
        try:
            checking.run_test(namespace, "readonly.heights_checks", "dfdmu", [(7, 1)])
        except AssertionError as error:
            failed = error
        assert guards.Watch is not old[0] and heights_checks.Watch is guards.Watch
        assert checking.CheckFailed is not old[1] and type(failed) is checking.CheckFailed
        assert heights_checks.CheckFailed is guards.CheckFailed is checking.CheckFailed
        assert gradients.relative_error is not old[2]
        assert heights_checks.relative_error is checking.relative_error is gradients.relative_error
        assert heights_checks.diagnose_step is heights_mistakes.diagnose_step is not old[3]
        assert heights_mistakes.recognise is checking.recognise
        assert heights_mistakes.relative_error is gradients.relative_error
        assert checking.raised is learner_errors.raised is not old[4]
        print(failed.mistake)
    """)
    assert out.strip() == "dfdmu/numerical-derivative"


def test_the_readonly_modules_are_linked_into_each_assignment():
    for assignment in ("backprop", "heights"):
        for name in ("guards.py", "interface.py", "learner_errors.py", f"{assignment}_mistakes.py"):
            link = REPO / "source" / assignment / "readonly" / name
            assert link.is_symlink() and link.resolve() == (REPO / "readonly" / name).resolve()
