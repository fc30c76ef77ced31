"""What a checks module (readonly/<assignment>_checks.py) provides: the test cells and the grader call these four.

A case is a list of numbers that crosses into the notebook as JSON (for 1-Backpropagation
[n1, n2, N, seed]; for 2-FittingDistribution [N, seed], or [N, seed, aggression] for
steepest_step; a notebook's own tests may write them as tuples).  An answer is a list of floats.
A failure is a readonly.checking.CheckFailed, an AssertionError whose `mistake` is
"<function>/<cause>".  Importing this module has no side effects.
"""
import typing
from collections.abc import Iterable, Sequence


@typing.runtime_checkable
class ChecksModule(typing.Protocol):
    """The four functions of a checks module; a module has them when isinstance(module, ChecksModule).

    Declared as methods, as PEP 544 matches a module against a protocol: a module's function
    answer(namespace, name, case) is the method answer(self, namespace, name, case).
    """

    def answer(self, namespace: dict, name: str, case: Sequence[float]) -> list[float]:
        """The learner's side of one case: namespace[name]'s answer on case, as a list of floats.

        namespace: the notebook's globals(), where it calls the learner's function; it runs in the
        notebook's kernel (readonly.checking.print_answers reports its answers to the grader).
        Raises CheckFailed for an answer of the wrong kind: an error, a wrong shape or type, a
        numerical derivative.
        """

    def judge(self, name: str, case: Sequence[float], got: object) -> None:
        """The other side: return None if got is the right answer of name on case, else raise CheckFailed.

        got: an answer as it crossed from the kernel as JSON (readonly.checking.received: a list
        of floats, or a failure the kernel reported, which is raised again).  It runs none of the
        learner's code, so the grader calls it in a process of its own
        (coursetools.grading.diagnoses.diagnose), which counts a CheckFailed by its mistake and
        any other exception as an unreadable answer.
        """

    def grader_cases(self, seed: int) -> dict[str, list[list[float]]]:
        """{function: [case, ...]}: the grader's own cases for each checked function, all drawn from seed.

        seed: an int the grader derives from the submission (the same on a regrade).  The cases
        are never those of the notebook's tests, so code that special-cases the tests' inputs
        cannot know them.
        """

    def check(self, namespace: dict, name: str, cases: Iterable[Sequence[float]]) -> None:
        """What a test cell does (readonly.checking.run_test): answer and judge namespace[name] on each case.

        Returns None; raises CheckFailed at the first wrong case, with a short traceback.
        """


#: The names of ChecksModule's functions, in the order declared.
FUNCTIONS = tuple(name for name, value in vars(ChecksModule).items() if callable(value) and not name.startswith("_"))


def missing(module):
    """The names of ChecksModule's functions that module (a module object) lacks or has as no function."""
    return [name for name in FUNCTIONS if not callable(getattr(module, name, None))]
