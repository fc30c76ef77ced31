"""Feedback pages draw every formula of the notebooks as MathML and load no script (no kernel, no browser).

tests/e2e/test_e2e_feedback.py opens a real feedback page in Chromium with the network off.
"""
from collections import Counter
from html.parser import HTMLParser

import nbformat
import pytest
from conftest import REPO
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat.v4 import new_markdown_cell, new_notebook

from coursetools.course import assignments
from coursetools.offline_math import OfflineMathExporter, mathml, styled


class Formulas(IPythonRenderer):
    """nbconvert's renderer, keeping each formula it meets as (display, TeX)."""

    def __init__(self):
        super().__init__(escape=False)
        self.found = []

    def inline_math(self, body):
        self.found.append(("inline", body))
        return super().inline_math(body)

    def block_math(self, body):
        self.found.append(("block", body))
        return super().block_math(body)

    def latex_environment(self, name, body):
        self.found.append(("block", f"\\begin{{{name}}}{body}\\end{{{name}}}"))
        return super().latex_environment(name, body)


class Active(HTMLParser):
    """What of a page can run, frame or load: elements that can, event handlers, script URLs, images."""

    TAGS = {"script", "iframe", "frame", "object", "embed", "svg", "math", "img", "link", "style"}

    def __init__(self, page):
        super().__init__(convert_charrefs=True)
        self.found = Counter()
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag in self.TAGS:
            self.found[tag] += 1
        for name, value in attrs:
            if name.startswith("on") or "script:" in (value or "").replace(" ", "").lower():
                self.found[f"{tag} {name}"] += 1


def added_by_markdown(exporter, sources):
    """What the page of markdown cells of sources can run, frame or load that the page of empty ones cannot."""
    def page(texts):
        return Active(exporter.from_notebook_node(new_notebook(cells=[new_markdown_cell(t) for t in texts]))[0])

    return sorted((page(sources).found - page([""] * len(sources)).found).elements())


@pytest.mark.parametrize("assignment", assignments(REPO), ids=lambda a: a.name)
def test_every_formula_of_the_notebooks_becomes_mathml(assignment):
    renderer = Formulas()
    for cell in nbformat.read(assignment.source(REPO), as_version=4).cells:
        if cell.cell_type == "markdown":
            MarkdownWithMath(renderer=renderer).render(cell.source)
    assert len(renderer.found) > 20
    failed = [tex for display, tex in renderer.found if mathml(tex, display) is None]
    assert failed == []


def test_styles_browsers_do_not_draw_are_written_as_unicode_letters():
    assert styled("W", "bold") == "\U0001D416" and styled("R", "double-struck") == "\u211D"
    assert styled("\u03b4", "bold-italic") == "\U0001D739" and styled("T", "sans-serif") == "\U0001D5B3"
    shown = mathml(r"\mathbf W \in \mathbb R^{2 \times n_2}", "inline")
    assert shown.startswith('<math display="inline">') and "\U0001D416" in shown and "\u211D" in shown
    assert 'mathvariant="bold"' not in shown


REFUSED = [r"\href{javascript:alert(1)}{x}", r"\text{<script>alert(1)</script>}",
           r"\text{<img src=x onerror=alert(1)>}", r"\frac{1}{"]


@pytest.mark.parametrize("tex", [*REFUSED, r"\text{<![CDATA[<script>alert(1)</script>]]>}", r"\unknowncommand{x}"])
def test_a_formula_giving_anything_but_plain_mathml_is_shown_as_its_tex_and_none_is_active(tex):
    assert (mathml(tex, "inline") is None) == (tex in REFUSED)
    exporter = OfflineMathExporter()
    # What the markdown adds to the page: our whitelisted <math> alone, or nothing.
    found = added_by_markdown(exporter, [f"see ${tex}$", f"$${tex}$$"])
    assert found == ([] if tex in REFUSED else ["math", "math"])


def test_the_feedback_exporter_loads_no_mathjax_and_no_script():
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    converter = GenerateFeedback(coursedir=CourseDirectory(root=str(REPO)), config=config)
    exporter = converter.exporter_class(config=converter.config)
    assert isinstance(exporter, OfflineMathExporter)
    nb = new_notebook(cells=[new_markdown_cell(r"$$C = \frac{1}{N} \sum_k C_k$$ and $\mathbf W^{(3)}$")])
    resources = {"nbgrader": {"notebook": "1-Backpropagation", "score": 1.0, "max_score": 2.0, "late_penalty": 0.0}}
    page = exporter.from_notebook_node(nb, resources=resources)[0]
    assert '<math display="block">' in page and '<math display="inline">' in page
    assert "<script" not in page and "mathjax" not in page.lower().replace("loading mathjax macro", "")
