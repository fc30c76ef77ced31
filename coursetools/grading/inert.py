"""Make what a student's notebook shows inert before an instructor looks at it.

A submission's cells run in the student's kernel, so every output in the autograded notebook
is the student's: `display(HTML("<img src=x onerror=...>"))` becomes a text/html output, which
nbconvert's HTML exporter copies verbatim into the formgrader's "Manual Grading" page and into
`nbgrader generate_feedback`'s pages (both render `autograded/`), where it runs as script in the
instructor's Jupyter origin.  Markdown cells are the student's too, and nbconvert passes their
raw HTML and `javascript:` links through.  The grader therefore applies `inert_notebook` to each
autograded notebook before it is written under `autograded/`, and so does stock `nbgrader autograde`
with this course's nbgrader_config.py (`coursetools.grading.stock.autograde_preprocessors`).
"""
import base64
import functools
import json
import re
from html.parser import HTMLParser

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

#: The MIME types an output keeps: text/plain, and raster images (shown in an <img> from base64 data,
#: where nothing runs).  application/json is not kept as such (nbconvert never shows it, and
#: JupyterLab's JSON tree is one more renderer to trust); its text stands in when no text/plain.
IMAGES = ("image/png", "image/jpeg", "image/gif")
DISPLAYS = ("display_data", "execute_result", "update_display_data")
TEXTS = ("stream", "error")  # text, which every renderer escapes (tests/test_inert.py checks nbconvert's)
#: Characters of text kept from an output that is dropped (its HTML's text, its JSON).
TEXT_LIMIT = 2000
#: Metadata that makes a renderer trust, load or hide something: notebook level, cell level.
NOTEBOOK_KEYS = ("widgets", "trusted", "signature")
CELL_KEYS = ("trusted", "transient")
#: In markdown: a tag, comment, declaration or autolink (raw HTML, as markdown sees it), or a MathJax link.
_RAW_HTML = re.compile(r"<[A-Za-z!?/]|\\(href|url)\b")
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif|svg\+xml|webp);base64,")  # an attachment, as nbconvert embeds it


class MakeInert(NbGraderPreprocessor):
    """The step after execution: the notebook nbgrader writes, and the formgrader and feedback show, runs no script."""

    def preprocess(self, nb, resources):
        inert_notebook(nb)
        return nb, resources


def inert_notebook(nb):
    """Make nb (an nbformat v4 NotebookNode) inert in place; return how many outputs it changed.

    The rule, for every code cell:
    - display_data, execute_result and update_display_data outputs keep only text/plain and
      image/png, image/jpeg, image/gif whose value is a str of base64 data; every other type
      (text/html, image/svg+xml, text/markdown, text/latex, application/javascript, widget views,
      application/json, anything unknown) is removed.  One left without text/plain but missing
      something gets one: the text of its HTML or JSON (TEXT_LIMIT characters) and a note of what
      was removed.  Metadata keeps only numbers as width and height of a kept image (nbconvert
      writes them into the <img> tag unquoted); "isolated", "trusted", "filenames" and the rest go.
    - stream and error outputs are left as they are (text); outputs of unknown type are removed.
    - a non-integer execution_count (of a cell or a result) becomes None: nbconvert would refuse it.
    Markdown cells whose source holds raw HTML, a link whose scheme is not http, https or
    mailto, an image from another server, or MathJax's \\href or \\url, are shown as text
    instead: in a fenced code block after a note (not counted).
    Notebook metadata loses NOTEBOOK_KEYS (widget state, which renderers load and run) and
    every cell's metadata loses CELL_KEYS; the rest (nbgrader's) stays.
    """
    changed = 0
    for key in NOTEBOOK_KEYS:
        nb.get("metadata", {}).pop(key, None)
    for cell in nb.get("cells", []):
        for key in CELL_KEYS:
            cell.get("metadata", {}).pop(key, None)
        source = cell.get("source", "")
        if cell.get("cell_type") == "markdown" and not _markdown_is_inert(source, cell.get("attachments")):
            cell["source"] = _as_text(source)
        if cell.get("cell_type") != "code":
            continue
        if not _is_count(cell.get("execution_count")):
            cell["execution_count"] = None
        kept = []
        for output in cell.get("outputs") if isinstance(cell.get("outputs"), list) else ():
            new = _inert_output(output)
            changed += new is None or new != output
            kept += [] if new is None else [new]
        cell["outputs"] = kept
    return changed


def inert_bytes(data):
    """The notebook in data (JSON bytes) made inert by inert_notebook, as nbformat writes it.

    Bytes that are not a notebook nbformat can read come back unchanged, as do notebooks in
    which nothing changes; the grader reports broken notebooks elsewhere.
    """
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:  # any way of not being a notebook: not JSON, not UTF-8, not a version nbformat knows
        return data
    before = json.dumps(nb, sort_keys=True)
    inert_notebook(nb)
    return data if json.dumps(nb, sort_keys=True) == before else (nbformat.writes(nb).rstrip("\n") + "\n").encode()


def _inert_output(output):
    """output if a stream or error, a copy of a display output with only inert data and metadata, else None."""
    kind = output.get("output_type") if isinstance(output, dict) else None
    if kind not in DISPLAYS:
        return output if kind in TEXTS else None
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    metadata = output.get("metadata") if isinstance(output.get("metadata"), dict) else {}
    new = nbformat.NotebookNode({key: value for key, value in output.items() if key not in ("data", "metadata")})
    new.data = nbformat.NotebookNode({mime: value for mime, value in data.items()
                                      if mime == "text/plain" and isinstance(value, str)
                                      or mime in IMAGES and _is_base64(value)})
    new.metadata = nbformat.NotebookNode()
    for mime in set(IMAGES) & set(new.data):
        given = metadata.get(mime) if isinstance(metadata.get(mime), dict) else {}
        size = {key: value for key, value in given.items() if key in ("width", "height")
                and isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")}
        if size:
            new.metadata[mime] = nbformat.NotebookNode(size)
    if "execution_count" in new and not _is_count(new.execution_count):
        new.execution_count = None
    removed = ", ".join(sorted(str(mime) for mime in data if mime not in new.data))[:200]
    if "text/plain" not in new.data and (removed or not new.data):
        text = _html_text(data.get("text/html")) or (json.dumps(data["application/json"], indent=1, default=str)
                                                      [:TEXT_LIMIT] if "application/json" in data else "")
        note = f"[{removed or 'empty'} output removed by the grader: student output is shown only as text and images]"
        new.data["text/plain"] = f"{text}\n{note}" if text else note
    return new


def _is_count(value):  # what nbformat allows as an execution count
    return value is None or isinstance(value, int) and not isinstance(value, bool)


def _is_base64(value):
    """Whether value is a str of base64 data, not empty (line breaks allowed, as nbformat keeps them)."""
    try:
        return isinstance(value, str) and bool(base64.b64decode("".join(value.split()), validate=True))
    except ValueError:  # binascii.Error is one
        return False


class _Text(HTMLParser):
    """Collects the text of HTML, leaving out what script and style elements hold."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], None

    def handle_starttag(self, tag, attrs):
        self.skip = tag if tag in ("script", "style") else self.skip

    def handle_endtag(self, tag):
        self.skip = None if tag == self.skip else self.skip

    def handle_data(self, data):
        self.parts += [] if self.skip else [data]


def _html_text(value):
    """The text of HTML value (a str, else nothing), spaces collapsed, at most TEXT_LIMIT characters."""
    parser = _Text()
    parser.feed(value[:20 * TEXT_LIMIT] if isinstance(value, str) else "")
    parser.close()
    return re.sub(r"[ \t]*\n\s*", "\n", re.sub(r"[ \t\r\f\v]+", " ", "".join(parser.parts))).strip()[:TEXT_LIMIT]


class _Links(HTMLParser):
    """Judges HTML that markdown made (no raw HTML in it): no event handler, no script link, no remote image."""

    safe = True

    def handle_starttag(self, tag, attrs):
        self.safe &= all(_safe_attribute(name, value or "") for name, value in attrs)


def _safe_attribute(name, value):
    url = re.sub(r"[\x00-\x20]", "", value).lower()  # as browsers read a URL
    scheme = _SCHEME.match(url)
    local = not scheme and not re.match(r"[/\\]{2}", url)  # a path on the same server (browsers read \ as /)
    if name in ("src", "srcset"):
        return local or bool(_IMAGE_DATA.match(url))
    if name == "href":
        return local or bool(scheme) and scheme.group(1) in ("http", "https", "mailto")
    return not name.startswith("on")


def _markdown_is_inert(source, attachments):
    """Whether nbconvert's HTML exporter shows this markdown with no raw HTML, script link or remote image.

    The verdict on a markdown cell without attachments is kept (per process, the last 1,024 sources of
    up to 64 KiB): most cells are the assignment's own text, the same in every submission, and
    rendering one takes some 5 ms.
    """
    if not attachments and isinstance(source, str) and len(source) <= 2 ** 16:
        return _text_is_inert(source)
    return _rendered_is_inert(source, attachments)


@functools.lru_cache(maxsize=1024)
def _text_is_inert(source):
    return _rendered_is_inert(source, None)


def _rendered_is_inert(source, attachments):
    if not isinstance(source, str) or _RAW_HTML.search(source):
        return False
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath  # slow to import

    parser = _Links()
    try:  # as HTMLExporter.markdown2html renders it
        parser.feed(MarkdownWithMath(renderer=IPythonRenderer(escape=False, attachments=attachments or {}))
                    .render(source))
        parser.close()
    except Exception:  # a missing or malformed attachment: nbconvert would fail too
        return False
    return parser.safe


def _as_text(source):
    """Markdown that shows source as text: a note, then source in a fence longer than its backticks."""
    source = source if isinstance(source, str) else json.dumps(source)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", source)), default=0))
    return ("*[This markdown held HTML, a script link or a remote image; the grader shows it as text.]*\n\n"
            f"{fence}text\n{source}\n{fence}\n")
