"""Student output made inert (coursetools.grading.inert), as the instructor's pages render it.

Every hostile notebook here is rendered the two ways nbgrader shows an autograded notebook to
an instructor: the formgrader's "Manual Grading" page (HTMLExporter with nbgrader's `formgrade`
template, nbgrader/server_extensions/formgrader/{formgrader,handlers}.py) and the feedback page
(`nbgrader generate_feedback`: the exporter configuration nbgrader's GenerateFeedback makes, with
this course's nbgrader_config.py and its TeachingFeedback preprocessor).  The rendered HTML is
parsed and must hold no event handler, no script but the page's own (those of the same notebook
without outputs), no javascript: URL, no image from elsewhere, and no <svg>, <iframe>, <object> or
<embed>.  Each attack is also rendered without inert_notebook, where the same check must find it
(the check can fail), but SVG, which nbconvert itself shows in an <img>.  No kernel runs.
"""
import base64
import collections
import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from coursetools.grading.inert import TEXT_LIMIT, inert_bytes, inert_notebook

REPO = Path(__file__).resolve().parent.parent
#: A 2x2 PNG.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg=="
XSS = "<img src=x onerror=\"document.title='PWNED-'+document.cookie.length\">"
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script>'
       '<a href="javascript:alert(3)"><text y="20">click</text></a></svg>')
WIDGET = {"model_id": "0123456789abcdef", "version_major": 2, "version_minor": 0}
WIDGET_STATE = {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0, "state": {
    "0123456789abcdef": {"model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
                         "model_module_version": "2.0.0", "state": {"value": XSS}}}}}

#: Hostile display outputs: (name, output).  Each, left as it is, puts script or a frame in the page.
ATTACKS = [
    ("img-onerror-html", new_output("display_data", data={"text/html": XSS})),
    ("script-html", new_output("display_data", data={"text/html": "<p>hi</p><script>alert(1)</script>"})),
    ("svg-script-onload", new_output("display_data", data={"image/svg+xml": SVG})),
    ("markdown-raw-html", new_output("display_data", data={"text/markdown": f"*look* {XSS} [x](javascript:alert(1))"})),
    ("javascript", new_output("display_data", data={"application/javascript": "document.title='PWNED-js'"})),
    ("widget-view", new_output("display_data", data={"application/vnd.jupyter.widget-view+json": WIDGET,
                                                     "text/plain": "HTML(value='...')"})),
    ("isolated-html", new_output("display_data", data={"text/html": "<b>framed</b>"},
                                 metadata={"text/html": {"isolated": True}, "isolated": True, "trusted": True})),
    ("png-width-attribute", new_output("display_data", data={"image/png": PNG},
                                       metadata={"image/png": {"width": "1 onerror=alert(1)", "height": 2}})),
    ("execute-result-html", new_output("execute_result", data={"text/html": XSS, "text/plain": "<IPython.HTML>"},
                                       execution_count=1)),
]


def notebook(*outputs, markdown=None, widgets=False):
    """A notebook of one code cell with outputs (and a markdown cell first, if given)."""
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    if markdown is not None:
        nb.cells.append(new_markdown_cell(markdown))
    nb.cells.append(new_code_cell("show()", execution_count=1, outputs=[copy.deepcopy(o) for o in outputs]))
    if widgets:
        nb.metadata.widgets = copy.deepcopy(WIDGET_STATE)
    return nb


def inert(nb):
    nb = copy.deepcopy(nb)
    inert_notebook(nb)
    return nb


# --- the two pages -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """{"feedback": render, "formgrade": render}: notebook -> the HTML nbgrader makes of it."""
    from nbconvert import HTMLExporter
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import GetGrades
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    converter = GenerateFeedback(coursedir=CourseDirectory(root=str(tmp_path_factory.mktemp("course"))),
                                 config=config)
    feedback = HTMLExporter(config=converter.config)
    for preprocessor in converter.preprocessors:
        if preprocessor is not GetGrades:  # it reads the scores from a gradebook; the scores are given below
            feedback.register_preprocessor(preprocessor, enabled=True)
    formgrade_config = Config()
    formgrade_config.HTMLExporter.template_name = "formgrade"  # as FormgradeExtension.build_extra_config
    formgrade_config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    formgrade = HTMLExporter(config=formgrade_config)

    def render_feedback(nb):
        resources = {"nbgrader": {"notebook": "1-Backpropagation", "score": 1.0, "max_score": 2.0,
                                  "late_penalty": 0.0}}
        return feedback.from_notebook_node(copy.deepcopy(nb), resources=resources)[0]

    def render_formgrade(nb):  # the resources SubmissionHandler passes
        resources = {"assignment_id": "backprop", "notebook_id": "1-Backpropagation", "submission_id": "abc",
                     "index": 0, "total": 1, "base_url": "", "student": "mallory", "last_name": "M",
                     "first_name": "M", "notebook_path": "autograded/mallory/backprop/1-Backpropagation.ipynb"}
        return formgrade.from_notebook_node(copy.deepcopy(nb), resources=resources)[0]

    return {"feedback": render_feedback, "formgrade": render_formgrade}


class Scan(HTMLParser):
    """What of a page can run script, frame or load something."""

    URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "srcset"}
    ACTIVE = {"svg", "iframe", "frame", "object", "embed", "math"}

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.handlers, self.urls, self.active, self.scripts = [], [], [], collections.Counter()
        self.images = []  # where <img> tags load from, but data: URLs
        self.script = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}={value!r}>")
            url = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if name in self.URL_ATTRIBUTES and url.startswith(("javascript:", "vbscript:", "data:text/html")):
                self.urls.append(f"<{tag} {name}={value!r}>")
        if tag == "img":
            self.images += [value for name, value in attrs if name == "src" and not value.startswith("data:")]
        if tag in self.ACTIVE:
            self.active.append(tag)
        if tag == "script":
            self.script = [tuple(sorted(attrs))]

    def handle_data(self, data):
        if self.script is not None:
            self.script.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self.script is not None:
            self.scripts[(self.script[0], "".join(self.script[1:]).strip())] += 1
            self.script = None


def without_outputs(nb):
    """nb without outputs, widget state or markdown: what is left is the page's own."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
        elif cell.cell_type == "markdown":
            cell.source = ""
    return nb


def hazards(render, nb):
    """What the page of nb can run, frame or load that the page of nb without outputs cannot."""
    page, clean = Scan(render(nb)), Scan(render(without_outputs(nb)))
    found = []
    for kind in ("handlers", "urls", "images", "active"):
        found += list((collections.Counter(getattr(page, kind)) - collections.Counter(getattr(clean, kind))).elements())
    return found + [f"<script {attrs}>{text[:80]}" for (attrs, text) in (page.scripts - clean.scripts).elements()]


VIEWS = ["feedback", "formgrade"]


# --- the attacks --------------------------------------------------------------------------------

@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("name, output", ATTACKS, ids=[name for name, _ in ATTACKS])
def test_each_attack_is_found_as_given_and_gone_once_inert(pages, view, name, output):
    nb = notebook(output, widgets=name == "widget-view")
    if name == "svg-script-onload":  # nbconvert shows SVG in an <img> (where it cannot run); JupyterLab may not
        assert 'src="data:image/svg+xml;base64,' in pages[view](nb)
    else:
        assert hazards(pages[view], nb), f"{name}: the check finds nothing in the {view} page of the raw notebook"
    made = inert(nb)
    assert hazards(pages[view], made) == []
    html, own = pages[view](made).lower(), pages[view](without_outputs(made)).lower()
    for needle in ("onerror=", "javascript:", "<iframe", "<svg", "pwned", "alert(", "<script"):
        assert html.count(needle) == own.count(needle), (name, view, needle)  # bootstrap's CSS has javascript:


def test_every_output_left_is_text_or_a_base64_image():
    nb = notebook(*(output for _, output in ATTACKS), widgets=True)
    assert inert_notebook(nb) == len(ATTACKS)
    assert "widgets" not in nb.metadata
    for output in nb.cells[0].outputs:
        assert set(output.data) <= {"text/plain", "image/png"}, output
        assert set(output.metadata) <= {"image/png"} and all(
            set(sizes) <= {"width", "height"} for sizes in output.metadata.values()), output
    assert inert_notebook(nb) == 0, "a second pass changes nothing"


def test_html_is_dropped_and_the_plain_text_beside_it_kept(pages):
    nb = inert(notebook(new_output("execute_result", data={"text/html": XSS, "text/plain": "<Result 42>"},
                                   execution_count=1)))
    assert nb.cells[0].outputs[0].data == {"text/plain": "<Result 42>"}
    for view in VIEWS:
        assert "&lt;Result 42&gt;" in pages[view](nb)


def test_html_alone_leaves_its_text_and_a_note():
    html = "<div><h3>Table</h3><p>a <b>b</b></p><script>steal()</script><style>p {}</style></div>" + "x" * 5000
    nb = inert(notebook(new_output("display_data", data={"text/html": html, "text/latex": "$x$"})))
    text = nb.cells[0].outputs[0].data["text/plain"]
    assert text.startswith("Tablea b") and "steal" not in text and "p {}" not in text
    assert "[text/html, text/latex output removed by the grader" in text
    assert len(text) < TEXT_LIMIT + 200


def test_json_alone_leaves_its_text():
    nb = inert(notebook(new_output("display_data", data={"application/json": {"a": [1, 2]}})))
    text = nb.cells[0].outputs[0].data["text/plain"]
    assert json.loads(text.split("\n[")[0]) == {"a": [1, 2]} and "application/json output removed" in text


def test_a_png_is_kept_byte_equal_with_its_size(pages):
    output = new_output("display_data", data={"image/png": PNG + "\n", "text/plain": "<Figure>"},
                        metadata={"image/png": {"width": 640, "height": 480.5}})
    nb = inert(notebook(output))
    assert nb.cells[0].outputs[0] == output
    assert inert_notebook(notebook(output)) == 0
    for view in VIEWS:
        page = pages[view](nb)
        assert f'src="data:image/png;base64,{PNG}' in page and 'width="640"' in page and hazards(pages[view], nb) == []


@pytest.mark.parametrize("value", ["not base64!", PNG[:-3], "", f'{PNG}" onerror="alert(1)', ["iVBO", "Rw=="],
                                   {"src": "x"}, 12],
                         ids=["text", "cut-short", "empty", "quote-breakout", "list", "dict", "number"])
def test_an_image_that_is_not_base64_is_dropped(value):
    nb = notebook()  # nbformat would refuse some of these values in new_output; a kernel's message may hold them
    nb.cells[0].outputs.append(nbformat.from_dict({"output_type": "display_data", "metadata": {},
                                                   "data": {"image/png": value, "image/jpeg": value}}))
    inert_notebook(nb)
    assert nb.cells[0].outputs[0].data == {
        "text/plain": "[image/jpeg, image/png output removed by the grader: "
                      "student output is shown only as text and images]"}


def test_metadata_keeps_only_numeric_image_sizes():
    metadata = {"trusted": True, "isolated": True, "filenames": {"image/png": "https://example.invalid/x.png"},
                "text/html": {"isolated": True}, "width": 5,
                "image/png": {"width": True, "height": float("nan"), "alt": "x", "unconfined": True},
                "image/jpeg": {"width": 3}}
    nb = inert(notebook(new_output("display_data", data={"image/png": PNG, "text/plain": "p"}, metadata=metadata)))
    assert nb.cells[0].outputs[0].metadata == {}


def test_trust_and_widget_state_leave_the_metadata_but_nbgraders_stays():
    nb = notebook(widgets=True)
    nb.metadata.update(trusted=True, signature="sha256:0")
    nb.cells[0].metadata.update(trusted=True, transient={"remove_source": True},
                                nbgrader={"grade": True, "grade_id": "test_x", "points": 1})
    inert_notebook(nb)
    assert set(nb.metadata) == {"kernelspec"}
    assert nb.cells[0].metadata == {"nbgrader": {"grade": True, "grade_id": "test_x", "points": 1}}


def test_counts_ids_and_unknown_output_types():
    nb = notebook(new_output("stream", name="stdout", text="ok"))
    nb.cells[0].outputs += [nbformat.from_dict({"output_type": "execute_result", "data": {"text/plain": "1"},
                                                "metadata": {}, "execution_count": "<b>7</b>"}),
                            {"output_type": "weird", "data": {"text/html": XSS}}, "not an output",
                            {"output_type": "update_display_data", "data": {"text/html": XSS}, "metadata": {}}]
    nb.cells[0].execution_count = "<img src=x onerror=alert(1)>"
    assert inert_notebook(nb) == 4
    cell = nb.cells[0]
    assert cell.execution_count is None and [o["output_type"] for o in cell.outputs] == [
        "stream", "execute_result", "update_display_data"]
    assert cell.outputs[1].execution_count is None and "text/html" not in cell.outputs[2]["data"]


@pytest.mark.parametrize("view", VIEWS)
def test_streams_and_errors_are_escaped_as_they_are(pages, view):
    """Left alone by inert_notebook: nbconvert escapes them (the feedback shows ename and evalue too)."""
    error = new_output("error", ename=XSS, evalue="<script>document.title='PWNED'</script>",
                       traceback=[XSS, "\x1b[31m<svg onload=alert(1)>\x1b[0m"])
    stream = new_output("stream", name="stderr", text=f"{XSS}\n<script>alert(1)</script>")
    nb = notebook(stream, error)
    nb.cells[0].metadata.nbgrader = {"grade": True, "grade_id": "test_sigma", "points": 1, "locked": True,
                                     "solution": False, "schema_version": 3, "score": 0}  # score: as GetGrades
    assert inert_notebook(copy.deepcopy(nb)) == 0
    page = pages[view](nb)
    assert hazards(pages[view], nb) == []
    assert "&lt;img src=x onerror=" in page and "&lt;script&gt;" in page and "&lt;svg onload" in page
    if view == "feedback":  # TeachingFeedback writes the error's message above the traceback
        assert page.count("&lt;script&gt;document.title") == 1


MARKDOWN_ATTACKS = [f"Answer: {XSS}", "<script>alert(1)</script>", "[click me](javascript:alert(1))",
                    "[click](jav&#x61;script:alert(1))", "[c]( JAVASCRIPT:alert(1))", "<javascript:alert(1)>",
                    "![x](https://example.invalid/t.png)", "![x](//example.invalid/t.png)",
                    "[x]: javascript:alert(1)\n\nsee [x]", "$\\href{javascript:alert(1)}{x}$", "<!-- hidden -->",
                    "[data](data:text/html;base64,PHNjcmlwdD4=)"]


@pytest.mark.parametrize("source", MARKDOWN_ATTACKS)
def test_a_markdown_cell_with_html_or_a_script_link_is_shown_as_text(pages, source):
    nb = notebook(markdown=f"{source}\n\n```\ncode with ```` backticks\n```")
    made = inert(nb)
    assert made.cells[0].source.startswith("*[This markdown held HTML") and source in made.cells[0].source
    for view in VIEWS:
        assert hazards(pages[view], made) == []


def test_some_markdown_attacks_are_found_as_given(pages):
    for view in VIEWS:
        for source in (s for s in MARKDOWN_ATTACKS if "href" not in s and "<!--" not in s):  # MathJax's, a comment
            assert hazards(pages[view], notebook(markdown=source)), (view, source)


def test_plain_markdown_and_the_course_notebooks_are_left_alone():
    plain = ("# Title\n\nSome *text*, $a < b$, `x < y`, [docs](https://numpy.org), [below](#title), "
             "[mail](mailto:a@b.c) and ![figure](images/figure.png)")
    nb = notebook(markdown=plain)
    assert inert(nb) == nb
    for path in sorted((REPO / "release").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert inert(nb) == nb, path


def test_a_markdown_attachment_is_checked_as_nbconvert_embeds_it(pages):
    nb = notebook(markdown="![figure](attachment:f.png)")
    nb.cells[0].attachments = {"f.png": {"image/png": PNG}}
    assert inert(nb) == nb
    nb.cells[0].attachments = {"f.png": {"image/png": 'x" onerror="alert(1)'}}  # nbconvert escapes it
    assert all(hazards(pages[view], inert(nb)) == [] for view in VIEWS)
    nb.cells[0].attachments = {"f.png": {"text/html": PNG}}
    assert inert(nb).cells[0].source.startswith("*[This markdown held HTML")
    del nb.cells[0]["attachments"]
    assert inert(nb).cells[0].source.startswith("*[This markdown held HTML")  # nbconvert would fail on it


@pytest.mark.parametrize("view", VIEWS)
def test_a_raw_html_cell_is_cleaned_by_nbconvert_itself(pages, view):
    nb = notebook()
    nb.cells.append(new_raw_cell(XSS + "<script>alert(1)</script>", metadata={"raw_mimetype": "text/html"}))
    assert inert(nb) == nb and hazards(pages[view], nb) == []


def test_bytes_in_bytes_out():
    hostile = nbformat.writes(notebook(*(output for _, output in ATTACKS))).encode()
    out = inert_bytes(hostile)
    expected = inert(nbformat.reads(hostile.decode(), as_version=4))
    assert nbformat.reads(out.decode(), as_version=4) == expected and out.endswith(b"\n")
    assert inert_bytes(out) == out
    clean = nbformat.writes(notebook(new_output("stream", name="stdout", text="hi"))).encode()
    assert inert_bytes(clean) is clean
    for broken in (b"\xff\xfe not utf-8", b"{not json", b'{"a": 1}', b""):
        assert inert_bytes(broken) is broken


def test_an_unrenderable_execution_count_is_repaired(pages):
    nb = notebook(new_output("execute_result", data={"text/plain": "1"}, execution_count=1))
    nb.cells[0].execution_count = XSS
    with pytest.raises(nbformat.ValidationError):
        pages["formgrade"](nb)  # nbconvert refuses it: the instructor's page would be an error
    made = inert(nb)
    assert made.cells[0].execution_count is None and hazards(pages["formgrade"], made) == []


def test_base64_of_every_kept_image_type():
    data = {mime: base64.b64encode(b"GIF89a" if mime == "image/gif" else b"\xff\xd8\xff").decode()
            for mime in ("image/gif", "image/jpeg")}
    nb = inert(notebook(new_output("display_data", data=dict(data, **{"text/plain": "i"}))))
    assert nb.cells[0].outputs[0].data == dict(data, **{"text/plain": "i"})


@pytest.mark.parametrize("source", ["Plain *text* and $x^2$.", "[a link](javascript:alert(1))",
                                    "![remote](https://example.org/x.png)", "<b>raw</b>", "[ok](https://example.org)"])
def test_a_kept_markdown_verdict_is_the_rendered_one(source):
    from coursetools.grading.inert import _markdown_is_inert, _rendered_is_inert

    assert _markdown_is_inert(source, None) == _markdown_is_inert(source, {}) == _rendered_is_inert(source, None)
