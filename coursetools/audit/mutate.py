"""Mutants of a graded function: its solution region changed by AST operators suited to numerical code.

Each operator makes first-order mutants of the nodes that lie wholly inside the function's
solution region (subject.Function.region); `mutants` adds higher-order ones (two first-order
changes at once, drawn from the seed) and the corpus's real learner mistakes, removes duplicates
by normalised source (ast.unparse) and anything equal to the solution, and returns them in a
fixed order: the same seed gives the same mutants.
"""
import ast
import copy
import difflib
import random
import re
from dataclasses import dataclass

#: Operator names, in the order they are tried (mutants.csv and the report count by them).
OPERATORS = ("arithmetic", "sign", "constant", "transpose", "argument", "function", "variable", "drop-operand",
             "delete-statement", "return-value", "commute", "higher-order", "corpus")
_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.MatMult, ast.Pow)
#: Functions a learner confuses, both ways: the last name of a call (np.sum, sum, x.sum).
NEIGHBOURS = {"sum": ("mean", "prod"), "mean": ("sum",), "sigma": ("d_sigma",), "d_sigma": ("sigma",),
              "exp": ("log",), "log": ("exp",), "sqrt": ("square",), "square": ("sqrt",), "dot": ("multiply",),
              "multiply": ("dot",), "sin": ("cos",), "cos": ("sin",), "tanh": ("sinh",), "max": ("min",),
              "min": ("max",), "abs": ("square",)}
#: Keyword arguments whose values the argument operator changes, and what to.
KEYWORDS = {"axis": (0, 1, -1, None), "keepdims": (True, False), "ddof": (0, 1)}


@dataclass(frozen=True)
class Mutant:
    """One mutant: the function's whole cell with its solution region changed.

    function: its name; operator: one of OPERATORS; line: the line of the cell it changes (1-based);
    change: what changed, in a few words; cell: the mutated cell's source (normalised by
    ast.unparse; comments gone); diff: a unified diff against the normalised solution, its hunks only.
    """

    function: str
    operator: str
    line: int
    change: str
    cell: str
    diff: str

    @property
    def key(self):
        """A stable identifier: function, operator and a digest of the normalised cell."""
        import hashlib

        return f"{self.function}:{self.operator}:{hashlib.sha256(self.cell.encode()).hexdigest()[:10]}"


def normalised(source):
    """source as ast.unparse writes it (comments and layout gone); None if it does not parse."""
    try:
        return ast.unparse(ast.parse(source))
    except (SyntaxError, ValueError):
        return None


def _in_region(node, region):
    return hasattr(node, "lineno") and region[0] <= node.lineno and node.end_lineno <= region[1]


def _scope_names(tree, setup_text):
    """{name: the names it may be swapped for}: each argument for the function's other arguments, and
    each name ending in a digit (a1, z3, W2) for its digit neighbours (a2, z2, W3) among the function's
    names and the globals the notebook names."""
    function = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef))
    arguments = [a.arg for a in function.args.args]
    names = list(dict.fromkeys(arguments + [node.id for node in ast.walk(function) if isinstance(node, ast.Name)]))
    swaps = {name: [other for other in arguments if other != name] for name in arguments}
    for name in names:
        stem = re.fullmatch(r"([A-Za-z_]+)(\d)", name)
        for digit in "0123456789" if stem else ():
            other = stem.group(1) + digit
            if other != name and (other in names or re.search(rf"\b{other}\b", setup_text)):
                swaps.setdefault(name, []).append(other)
    return swaps


def _negate(node):
    return node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else ast.UnaryOp(
        ast.USub(), node)


def _last_name(call):
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _renamed(call, new):
    func = copy.deepcopy(call.func)
    if isinstance(func, ast.Name):
        func.id = new
    else:
        func.attr = new
    return ast.Call(func, call.args, call.keywords)


def _sites(node, names, functions):
    """(operator, change, replacement node or None to delete) for one node; replacements are fresh trees.

    names: {name: names a variable may be swapped for} (_scope_names); functions: {name: arity}.
    """
    found = []
    if isinstance(node, ast.BinOp):
        for op in _BINARY:
            if not isinstance(node.op, op):
                found.append(("arithmetic", f"{type(node.op).__name__} -> {op.__name__}",
                              ast.BinOp(node.left, op(), node.right)))
        found.append(("commute", "operands swapped", ast.BinOp(node.right, node.op, node.left)))
        found.append(("drop-operand", "right operand dropped", node.left))
        found.append(("drop-operand", "left operand dropped",
                      _negate(node.right) if isinstance(node.op, ast.Sub) else node.right))
    if isinstance(node, (ast.BinOp, ast.Call, ast.Name)) and not isinstance(getattr(node, "ctx", ast.Load()),
                                                                             ast.Store):
        found.append(("sign", "negated", _negate(node)))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        found.append(("sign", "minus sign dropped", node.operand))
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        c = node.value
        for value in dict.fromkeys((0, 1, -1, c + 1, c - 1, 2 * c, c / 2, -c)):
            if value != c or type(value) is not type(c):
                if value != c:
                    found.append(("constant", f"{c!r} -> {value!r}", ast.Constant(value)))
    if isinstance(node, ast.Attribute) and node.attr == "T":
        found.append(("transpose", "transpose removed", node.value))
    elif isinstance(node, (ast.Name, ast.Call, ast.BinOp)) and isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
        found.append(("transpose", "transpose added", ast.Attribute(node, "T", ast.Load())))
    if isinstance(node, ast.Call):
        name = _last_name(node)
        swaps = list(NEIGHBOURS.get(name, ()))
        if isinstance(node.func, ast.Name) and name in functions:
            swaps += [other for other in functions if other != name and functions[other] == functions[name]]
        for other in dict.fromkeys(swaps):
            found.append(("function", f"{name} -> {other}", _renamed(node, other)))
        for index, keyword in enumerate(node.keywords):
            kept = node.keywords[:index] + node.keywords[index + 1:]
            found.append(("argument", f"{keyword.arg}= dropped", ast.Call(node.func, node.args, kept)))
            for value in KEYWORDS.get(keyword.arg, ()):
                if not (isinstance(keyword.value, ast.Constant) and keyword.value.value == value):
                    changed = kept[:index] + [ast.keyword(keyword.arg, ast.Constant(value))] + kept[index:]
                    found.append(("argument", f"{keyword.arg}={value!r}", ast.Call(node.func, node.args, changed)))
        for index in range(len(node.args)) if len(node.args) > 1 else ():
            kept = node.args[:index] + node.args[index + 1:]
            found.append(("argument", f"argument {index + 1} dropped", ast.Call(node.func, kept, node.keywords)))
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        for other in names.get(node.id, ()):
            found.append(("variable", f"{node.id} -> {other}", ast.Name(other, ast.Load())))
    if isinstance(node, ast.stmt):
        found.append(("delete-statement", "statement deleted", None))
    if isinstance(node, ast.Return) and node.value is not None:
        value = node.value
        for change, new in (("as a list", ast.Call(ast.Attribute(value, "tolist", ast.Load()), [], [])),
                            ("as a scalar", ast.Call(ast.Name("float", ast.Load()), [
                                ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "sum", ast.Load()), [value], [])],
                                [])),
                            ("as a flat array", ast.Call(ast.Attribute(value, "ravel", ast.Load()), [], []))):
            found.append(("return-value", change, ast.Return(new)))
    return found


def _replace(tree, changes):
    """A copy of tree with nodes replaced: changes are (index in ast.walk order, replacement node or None to
    delete).  ValueError when one changed node lies inside another."""
    work = copy.deepcopy(tree)
    nodes = list(ast.walk(work))
    targets = [(nodes[index], replacement) for index, replacement in changes]
    for target, _ in targets:
        inside = {id(node) for node in ast.walk(target)} - {id(target)}
        if any(id(other) in inside for other, _ in targets):
            raise ValueError("nested changes")
    for target, replacement in targets:
        _swap(nodes, target, replacement)
    return work


def _swap(nodes, target, replacement):
    for parent in nodes:
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list) and any(item is target for item in value):
                spot = next(i for i, item in enumerate(value) if item is target)
                if replacement is None:
                    del value[spot]
                    if not value:
                        value.append(ast.Pass())
                else:
                    value[spot] = copy.deepcopy(replacement)
                return
            if value is target:
                if replacement is None:
                    raise ValueError("only a statement can be deleted")
                setattr(parent, field, copy.deepcopy(replacement))
                return
    raise ValueError("node not found")


def first_order(function, setup_text="", functions=None):
    """[(operator, line, change, (index, replacement))] of every first-order change of function's region.

    functions: {name: number of parameters} of the functions the notebook defines, which a call of
    one of them may be swapped for another of the same arity.
    """
    tree = ast.parse(function.cell)
    names = _scope_names(tree, setup_text)
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    found = []
    for index, node in enumerate(ast.walk(tree)):
        if not _in_region(node, function.region) or id(node) in called:
            continue
        for operator, change, replacement in _sites(node, names, functions or {}):
            found.append((operator, node.lineno, change, (index, replacement)))
    return tree, found


def _mutant(function, original, operator, line, change, cell):
    lines = difflib.unified_diff(original.splitlines(), cell.splitlines(), lineterm="", n=1)
    diff = "\n".join(list(lines)[2:])  # from the first @@: no ---/+++ header, which a spreadsheet reads as a formula
    return Mutant(function.name, operator, line, change, cell, diff)


def _pairs(singles, seed, count):
    """count pairs of first-order changes of different nodes, drawn from seed."""
    draw = random.Random(seed)
    pairs = [(a, b) for i, a in enumerate(singles) for b in singles[i + 1:] if a[3][0] != b[3][0]]
    return draw.sample(pairs, min(count, len(pairs)))


def _cell(tree, changes):
    """The normalised cell of tree with changes made, or None where they cannot be made together."""
    try:
        return normalised(ast.unparse(_replace(tree, changes)))
    except ValueError:
        return None


def mutants(subject, seed=0, per_function_pairs=40, corpus=()):
    """Every distinct mutant of subject's graded functions, in a fixed order for seed.

    corpus: (student, function, cell) real learner mistakes, each a whole mutated cell (see
    `subject.corpus`).  A mutant equal (normalised) to the solution or to an earlier one is left out.
    """
    setup_text = "\n".join(subject.setup)
    arities = {}
    for text in subject.setup:
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef):
                arities[node.name] = len(node.args.args)
    found, seen = [], set()
    for name, function in subject.functions.items():
        original = normalised(function.cell)
        seen.add(original)
        tree, singles = first_order(function, setup_text, arities)
        for operator, line, change, where in singles:
            cell = _cell(tree, [where])
            if cell and cell not in seen:
                seen.add(cell)
                found.append(_mutant(function, original, operator, line, change, cell))
        for first, second in _pairs(singles, f"{seed}:{name}", per_function_pairs):
            cell = _cell(tree, [first[3], second[3]])
            if cell and cell not in seen:
                seen.add(cell)
                found.append(_mutant(function, original, "higher-order", first[1],
                                     f"{first[0]}: {first[2]}; {second[0]}: {second[2]}", cell))
        for student, target, text in corpus:
            cell = normalised(text) if target == name else None
            if cell and cell not in seen:
                seen.add(cell)
                line = next((i + 1 for i, (a, b) in enumerate(zip(original.splitlines(), cell.splitlines())) if a != b),
                            1)
                found.append(_mutant(function, original, "corpus", line, student, cell))
    return found
