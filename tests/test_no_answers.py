"""No graded function's answer is printed in the learner notebooks (issue 19, item 1); no kernel.

For each graded function of the master notebook (source/), its answer is worked out from its code:
every assignment `name = expression` is composed into the next (ast), so that J_b2's answer is one
expression, np.sum(((2 * (a3 - y) * d_sigma(z3)).T @ W3).T * d_sigma(z2), ...) / x.size, whatever
lines it was written in.  Normalised (ast.unparse, then whitespace removed), that answer, the value
its `### BEGIN SOLUTION` region computes, and its equivalent forms (the spec's other code forms and
their maths in LaTeX, normalised alike) must appear neither in the learner notebook's markdown nor in
its given code, as text or as a value the given code composes.

The spec's scaffolding is the one exception, and it is listed: J_W3 and J_W2 are given, and the
learner writes J_b3 and J_b2 by analogy, so the values their regions compute (delta3 and delta2) are
computed on the way in J_W3 and J_W2; steepest_step's first entry is given and its second written by
analogy.  The answers themselves (the bias Jacobians, delta1, the factor of dfdmu, dfdsig, the
second entry) are not given.
"""
import ast
import json
import re

import pytest
from conftest import REPO

NOTEBOOKS = {
    "backprop": ("source/backprop/1-Backpropagation.ipynb", "1-Backpropagation.ipynb"),
    "heights": ("source/heights/2-FittingDistribution.ipynb", "2-FittingDistribution.ipynb"),
}
GRADED = {
    "backprop": ["J_b3", "J_b2", "J_W1", "J_b1"],
    "heights": ["dfdmu", "dfdsig", "steepest_step"],
}
#: The functions whose region's value the spec's scaffolding computes in a given function.
SCAFFOLDED_REGIONS = {"J_b3": "J_W3", "J_b2": "J_W2"}

#: Equivalent code forms of an answer (the value its region computes), normalised as code is.
CODE_EQUIVALENTS = {
    "dfdmu": ["(x-mu)/sig**2", "(x-mu)*sig**-2", "(x-mu)/(sig*sig)", "(x-mu)/sig/sig", "(-mu+x)/sig**2",
              "f(x,mu,sig)*(x-mu)/sig**2"],
    "dfdsig": ["(x-mu)**2/sig**3-1/sig", "((x-mu)**2-sig**2)/sig**3", "-1/sig+(x-mu)**2/sig**3",
               "-f(x,mu,sig)/sig+f(x,mu,sig)*(x-mu)**2/sig**3", "(x-mu)**2/sig**3"],
    "steepest_step": ["residual@dfdsig(", "(y-f(x,mu,sig))@dfdsig(", "dfdsig(x,mu,sig)@residual"],
    "J_b3": ["np.mean(J,axis=1,keepdims=True)"],
    "J_W1": ["W2.T@(W3.T@", "(J.T@W2).T*d_sigma(z1)", "W2.T@J*d_sigma(z1)"],
    "J_b1": ["(J.T@W2).T*d_sigma(z1)", "W2.T@J*d_sigma(z1)"],
}
#: The maths of the answers, as LaTeX normalised by latex() below.
LATEX_EQUIVALENTS = {
    "dfdmu": [r"\frac{x-\mu}{\sigma^2}", r"\frac{(x-\mu)}{\sigma^2}", r"(x-\mu)/\sigma^2", r"(x-\mu)\sigma^{-2}",
              r"\frac{2(x-\mu)}{2\sigma^2}", r"f\frac{x-\mu}{\sigma^2}", r"\frac{x-\mu}{\sigma^{2}}"],
    "dfdsig": [r"\frac{(x-\mu)^2}{\sigma^3}", r"(x-\mu)^2\sigma^{-3}", r"(x-\mu)^2/\sigma^3",
               r"\frac{(x-\mu)^2-\sigma^2}{\sigma^3}", r"-\frac{1}{\sigma^2\sqrt{2\pi}}", r"-\sigma^{-2}/\sqrt{2\pi}",
               r"\frac{(x-\mu)^{2}}{\sigma^{3}}"],
    "steepest_step": [r"\cdot\frac{\partialf}{\partial\sigma}", r"\frac{\partial\chi^2}{\partial\sigma}=-2"],
    "J_b1": [r"\mathrm{diag}(\sigma'(z^{(1)}_{:,k}))W^{(1)}"],
}


def cells(path):
    return json.loads((REPO / path).read_text(encoding="utf-8"))["cells"]


def source_text(cell):
    return "".join(cell["source"])


def code(text):
    """Code normalised: comments and whitespace removed."""
    return re.sub(r"\s+", "", re.sub(r"#.*", "", text))


def latex(text):
    """Markdown normalised for maths: spacing and sizing commands, fonts and whitespace removed."""
    text = re.sub(r"\\(left|right|[bB]igg?[lr]?|mathbf|boldsymbol|mathrm(?=\{d\})|,|;|!|quad|qquad)(?![a-zA-Z])", "",
                  text)
    text = text.replace(r"\dfrac", r"\frac").replace(r"\tfrac", r"\frac").replace("`", "")
    return re.sub(r"\s+", "", text)


class Composer(ast.NodeTransformer):
    """Replaces each name by the expression last assigned to it."""

    def __init__(self, env):
        self.env = env

    def visit_Name(self, node):
        return self.env.get(node.id, node)


def composed_values(function):
    """Every value a function's assignments compose to, with its line, and its composed return value."""
    env, values, returned = {}, [], None
    for statement in function.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(
                statement.targets[0], ast.Name):
            value = Composer(dict(env)).visit(ast.parse(ast.unparse(statement.value), mode="eval").body)
            env[statement.targets[0].id] = value
            values.append((statement.lineno, code(ast.unparse(value))))
        elif isinstance(statement, ast.Return) and statement.value is not None:
            value = Composer(dict(env)).visit(ast.parse(ast.unparse(statement.value), mode="eval").body)
            returned = code(ast.unparse(value))
            values.append((statement.lineno, returned))
    return values, returned


def functions(text):
    return {node.name: node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}


def answers(assignment):
    """For each graded function: its composed answer and the value its solution region computes."""
    found = {}
    for cell in cells(NOTEBOOKS[assignment][0]):
        name = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if name not in GRADED[assignment]:
            continue
        text = source_text(cell)
        lines = text.splitlines()
        begin = 1 + next(i for i, line in enumerate(lines) if "### BEGIN SOLUTION" in line)
        end = 1 + next(i for i, line in enumerate(lines) if "### END SOLUTION" in line)
        values, returned = composed_values(functions(text)[name])
        in_region = [value for line, value in values if begin < line < end]
        found[name] = {"answer": returned, "region": in_region[-1]}
    assert sorted(found) == sorted(GRADED[assignment])
    return found


def learner_given(assignment):
    """The learner notebook's markdown (normalised for maths and for code), given code, and composed values."""
    markdown, given, values = [], [], {}
    for cell in cells(NOTEBOOKS[assignment][1]):
        text = source_text(cell)
        if cell["cell_type"] == "markdown":
            markdown.append(text)
        elif cell["cell_type"] == "code":
            given.append(text)
            for name, function in functions(text).items():
                values[name] = [value for _, value in composed_values(function)[0]]
    return "\n".join(markdown), "\n".join(given), values


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_the_learner_notebook_is_the_release_and_has_no_solutions(assignment):
    learner = (REPO / NOTEBOOKS[assignment][1]).read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in learner and "raise NotImplementedError()" in learner


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_no_answer_is_printed_in_the_markdown_or_the_given_code(assignment):
    markdown, given, values = learner_given(assignment)
    as_code = code(markdown) + "\n" + code(given)
    as_maths = latex(markdown)
    every_value = {value: name for name, composed in values.items() for value in composed}
    for function, answer in answers(assignment).items():
        forbidden = [answer["answer"]] + CODE_EQUIVALENTS.get(function, [])
        if function not in SCAFFOLDED_REGIONS:
            forbidden.append(answer["region"])
        for text in forbidden:
            assert text not in as_code, f"{function}'s answer {text} is printed in the learner notebook"
            assert text not in every_value, f"{function}'s answer {text} is computed by {every_value.get(text)}"
        for formula in LATEX_EQUIVALENTS.get(function, []):
            assert latex(formula) not in as_maths, f"{function}'s answer {formula} is in the markdown"


def test_the_scaffolding_given_is_the_spec_s_and_no_more():
    """delta3 and delta2 are computed on the way in the given J_W3 and J_W2 (the spec's worked examples);
    delta1, which J_W1 and J_b1 compute, is in no given code."""
    _, _, values = learner_given("backprop")
    found = answers("backprop")
    for function, given_function in SCAFFOLDED_REGIONS.items():
        assert found[function]["region"] in values[given_function]
        assert found[function]["answer"] not in values[given_function]
    for function in ("J_W1", "J_b1"):
        assert not any(found[function]["region"] in composed for composed in values.values())


def test_the_heights_worked_example_teaches_the_chain_rule_through_e_to_the_u():
    """The method is on the page (the chain rule through e^u, worked on another function); its last step for f
    is the learner's."""
    markdown = latex(learner_given("heights")[0])
    assert latex(r"\frac{\partial}{\partial p} e^{u} = e^{u} \frac{\partial u}{\partial p}") in markdown
    assert latex(r"\frac{\partial f}{\partial \mu} = A e^{u} \frac{\partial u}{\partial \mu} = "
                 r"f \frac{\partial u}{\partial \mu}") in markdown
    assert latex(r"\frac{\partial v}{\partial \mu} = -\frac{4 (x - \mu)^3}{4 s^4} \times (-1)") in markdown


def test_a_leak_would_be_caught():
    """The test's own check: the old worked example (which ended with the factor) and J_b1's steps fail it."""
    old = r"$$\frac{\partial u}{\partial \mu} = -\frac{2\,(x - \mu)}{2\sigma^2} \times (-1) = \frac{x - \mu}{\sigma^2}.$$"
    assert any(latex(formula) in latex(old) for formula in LATEX_EQUIVALENTS["dfdmu"])
    steps = "J = 2 * (a3 - y)\nJ = J * d_sigma(z3)\nJ = (J.T @ W3).T\nJ = J * d_sigma(z2)\nJ = (J.T @ W2).T\n" \
            "J = J * d_sigma(z1)\n"
    leak = functions("def given(x, y):\n" + "".join("    " + line + "\n" for line in steps.splitlines())
                     + "    return J\n")["given"]
    assert answers("backprop")["J_b1"]["region"] == composed_values(leak)[1]
