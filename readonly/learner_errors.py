"""What a learner is told when their own code raises: their line, and the shapes there in the notebook's names.

readonly.checking calls `raised` for an exception that a learner's function raised and makes the
CheckFailed; `named_shapes` also names the shapes of a wrong-shaped answer.  This module imports
nothing of readonly's.
"""
import contextlib
import linecache
import re
import traceback
from pathlib import Path

import numpy as np

_SHAPE = re.compile(r"\((\d+)\s*,\s*(\d+)\)")
_MISMATCH = ("could not be broadcast", "matmul: Input operand", "not aligned", "reshape", "shapes")


def named_shapes(text, sizes):
    """text with each shape (a, b) followed by its names, as in "(20, 7) = (N, n2)".

    sizes: {number: name}, the notebook's names for the sizes of this case (for example
    {20: "N", 6: "n1", 7: "n2"}); a shape is named only when both of its numbers are known.
    """
    def name(match):
        a, b = int(match.group(1)), int(match.group(2))
        if a in sizes and b in sizes and (sizes[a], sizes[b]) != (str(a), str(b)):
            return f"({a}, {b}) = ({sizes[a]}, {sizes[b]})"
        return match.group(0)

    return _SHAPE.sub(name, text) if sizes else text


def learner_frame(error, function):
    """(frame, line number) of the last line of the learner's own code that error passed through, or None.

    The learner's code is the function and anything else defined in a notebook cell: a frame
    whose file is not a module of a package (readonly's, NumPy's, Python's).
    """
    library = (str(Path(__file__).resolve().parent), str(Path(np.__file__).resolve().parent.parent),
               str(Path(contextlib.__file__).resolve().parent))
    ours = [(frame, line) for frame, line in traceback.walk_tb(error.__traceback__)
            if frame.f_code.co_filename == getattr(getattr(function, "__code__", None), "co_filename", None)
            or not str(Path(frame.f_code.co_filename).resolve()).startswith(library)]
    return ours[-1] if ours else None


def _shapes_in(frame, code, sizes):
    """"J (20, 2) = (N, 2); W3 (2, 7) = (2, n2)" for the arrays named in code, as frame sees them."""
    shown = []
    for name in dict.fromkeys(re.findall(r"[A-Za-z_]\w*", code)):
        value = frame.f_locals.get(name, frame.f_globals.get(name))
        if isinstance(value, np.ndarray):
            shown.append(f"{name} {named_shapes(str(value.shape), sizes)}")
    return "; ".join(shown)


def raised(error, function, name, sizes):
    """(message, mistake) for error, raised by the learner's function name: its line, and the shapes there.

    sizes: {number: name} to name shapes with; mistake is "<name>/shapes-do-not-fit" for shapes
    that do not fit together, else "<name>/raises-<the exception's class>".
    """
    try:
        text = str(error)
    except Exception:  # an exception class of the learner's whose message cannot be made
        text = f"(an unprintable {type(error).__name__})"
    shapes = isinstance(error, ValueError) and any(word in text for word in _MISMATCH)
    lines = [f"{name} raised {type(error).__name__}: {named_shapes(text, sizes or {}) if shapes else text}"]
    found = learner_frame(error, function)
    code = linecache.getline(found[0].f_code.co_filename, found[1]).strip() if found else ""
    if found:
        lines.append(f"  at line {found[1]} of your cell" + (f": {code}" if code else ""))
    if shapes:
        if found and code:
            lines.append(f"  shapes in that line: {_shapes_in(found[0], code, sizes or {})}")
        lines.append("  the shapes do not fit together: write each factor's shape beside it; "
                     + ", ".join(f"{v} = {k}" for k, v in (sizes or {}).items() if v != str(k)))
        return "\n".join(lines), f"{name}/shapes-do-not-fit"
    return "\n".join(lines), f"{name}/raises-{type(error).__name__}"
