"""Judging: what the grader's own call of each function found, as `Mistake`s it words itself.

The kernel reports, for each function and case, either the answer (a list of numbers) or that
the learner's code failed there, with a claimed cause.  The grader judges the answers in its own
process with the checks module's `judge`; the mistake ids that come from that judging are the
grader's.  A failure reported by the kernel is only believed as far as the grader can bound it:
its cause must be one of the causes the checks find in the kernel (`KERNEL_CAUSES`), or it is
counted as `<function>/failed-in-notebook`; its message is the grader's own sentence for that
cause, never the kernel's text.  Answers that cannot be read are wrong answers.
"""
import builtins
import math
import re

from coursetools.outcome import Mistake, safe_lines

#: What the checks find wrong on the kernel's side (the learner's code ran there), and the
#: grader's words for each.  A "raises-<Name>" cause is believed for Python's own exceptions.
KERNEL_CAUSES = {
    "not-defined": "the function is not defined (its cell was not run, or did not run)",
    "not-implemented": "the function still raises NotImplementedError",
    "endless-loop": "the function did not return within its time limit",
    "shapes-do-not-fit": "the function raised an error about shapes that do not fit",
    "missing-return": "the function returned None",
    "not-an-array": "the function returned something that is not a NumPy array",
    "wrong-shape": "the function returned an array of the wrong shape",
    "not-real": "the function returned an array that is not of real numbers",
    "not-finite": "the function returned NaN or infinite entries",
    "changes-the-weights": "the function changed the network's weights",
    "keepdims-dropped": "the function returned the shape a sum without keepdims gives",
    "no-sum-over-examples": "the function returned one column per example (no sum over the examples)",
    "sum-over-wrong-axis": "the function returned the shape a sum over the wrong axis gives",
    "last-factor-of-another-layer": "the function returned the shape that another layer's activation in the last "
                                    "factor gives",
    "chain-stops-early": "the function returned the shape of a chain rule that stops before the parameter's layer",
    "a-single-number": "the function returned a single number where one per bar is needed",
    "elementwise-for-dot": "the function returned the shape an elementwise product gives where a dot product is meant",
    "numerical-derivative": "the function computes its derivative numerically (finite differences or a complex step)",
}
#: What a kernel-reported failure with any other cause is counted under.
FAILED_IN_NOTEBOOK = "failed-in-notebook"
_RAISES = re.compile(r"raises-([A-Za-z][A-Za-z0-9]{0,40})")
#: What a function whose answers could not be read as numbers is counted under.
UNREADABLE = "unreadable-answer"


def kernel_failure(function, claimed):
    """The Mistake for a failure the kernel reported for function, claiming the cause claimed ("<function>/<cause>")."""
    cause = claimed[len(function) + 1:] if isinstance(claimed, str) and claimed.startswith(f"{function}/") else ""
    raised = _RAISES.fullmatch(cause)
    if cause in KERNEL_CAUSES:
        said = KERNEL_CAUSES[cause]
    elif raised and isinstance(getattr(builtins, raised.group(1), None), type) \
            and issubclass(getattr(builtins, raised.group(1)), BaseException):
        said = f"the function raised {raised.group(1)}"
    else:
        cause, said = FAILED_IN_NOTEBOOK, "the function failed when the grader called it in the notebook"
    return Mistake(f"{function}/{cause}", f"{function}: {said} (the grader's own call).")


def judged(failed, function):
    """The Mistake of an AssertionError that the checks' judge raised in the grader's process."""
    identifier = getattr(failed, "mistake", None)
    if not isinstance(identifier, str) or not identifier.startswith(f"{function}/"):
        identifier = f"{function}/unrecognised"
    return Mistake(identifier, safe_lines(str(failed)))


def _numbers(answer):
    """Whether answer is a list of plain finite numbers, as an answer that crossed as JSON must be."""
    if not isinstance(answer, list):
        return False
    for value in answer:
        if type(value) not in (int, float):
            return False
        try:
            if not math.isfinite(value):
                return False
        except OverflowError:  # an int too large for a float
            return False
    return True


def diagnose(got, judge):
    """{function: Mistake} of each function whose answers are wrong.

    got: {function: [cases, answers or None]}, what the grader's cells reported; judge(function,
    case, answer) raises AssertionError for a wrong answer.  A kernel-reported failure is judged by
    `kernel_failure`; an answer that is not numbers, or on which the judge itself fails, is wrong.
    A function that reported no answers is left out: `answers.cross_check` deals with it.
    """
    found = {}
    for function, (cases, answers) in sorted(got.items()):
        if not isinstance(answers, list) or len(answers) != len(cases):
            continue
        for case, answer in zip(cases, answers):
            if isinstance(answer, dict):
                found[function] = kernel_failure(function, answer.get("mistake"))
                break
            if not _numbers(answer):
                found[function] = Mistake(f"{function}/{UNREADABLE}",
                                          f"{function}: the notebook reported something other than numbers for the "
                                          "grader's call.")
                break
            try:
                judge(function, case, answer)
            except AssertionError as failed:
                found[function] = judged(failed, function)
                break
            except Exception as broken:  # the judge could not read the answer (a wrong size, say)
                found[function] = Mistake(f"{function}/{UNREADABLE}", f"{function}: the grader could not read its "
                                          f"answer ({type(broken).__name__}).")
                break
    return found
