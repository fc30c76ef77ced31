"""Feedback pages whose formulas render with no network: LaTeX made MathML when the page is written.

nbgrader's feedback template loads MathJax from a CDN, which an offline learner or a locked-down
campus cannot reach: the formulas stayed raw `$x$`.  `OfflineMathExporter`, the HTML exporter
of `nbgrader generate_feedback` (nbgrader_config.py), turns each formula of a markdown cell into
MathML (latex2mathml), which browsers draw themselves (Chromium since 109, Firefox, Safari), and
loads no script at all: its `mathjax.html.j2` shadows nbconvert's, so the page asks for nothing.

A learner writes markdown too, so the MathML is rebuilt from a whitelist: only MathML elements
and presentation attributes, every text escaped; a formula that gives anything else (an `\\href`,
a `<script>` in `\\text{}`) or that latex2mathml cannot read is shown as its TeX, escaped, as
nbconvert shows it.
"""
import html
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from latex2mathml.converter import convert
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from traitlets import default

try:
    from jinja2 import pass_context
except ImportError:  # Jinja2 < 3
    from jinja2 import contextfilter as pass_context

#: Templates that shadow nbconvert's: mathjax.html.j2, which loads nothing.
TEMPLATES = Path(__file__).resolve().parent / "templates"
MATHML = "{http://www.w3.org/1998/Math/MathML}"
ELEMENTS = frozenset((
    "math mrow mi mn mo ms mtext mspace msup msub msubsup mfrac msqrt mroot mstyle mpadded mphantom "
    "menclose merror mtable mtr mtd mlabeledtr munder mover munderover mmultiscripts mprescripts none").split())
ATTRIBUTES = frozenset((
    "display mathvariant stretchy fence separator form lspace rspace width height depth columnalign "
    "columnspacing columnlines rowalign rowspacing rowlines frame framespacing displaystyle scriptlevel "
    "minsize maxsize movablelimits accent accentunder linethickness notation largeop symmetric mathsize "
    "equalrows equalcolumns align").split())


#: Where each mathvariant's letters start in Unicode's mathematical alphanumerics, as
#: (capital A, small a, digit 0, capital Alpha, small alpha), None where it has none: browsers draw
#: only mathvariant="normal" (MathML Core), so bold W, double-struck R and bold delta are written
#: as those characters.
_ALPHANUMERICS = {
    "bold": (0x1D400, 0x1D41A, 0x1D7CE, 0x1D6A8, 0x1D6C2),
    "italic": (0x1D434, 0x1D44E, None, 0x1D6E2, 0x1D6FC),
    "bold-italic": (0x1D468, 0x1D482, 0x1D7CE, 0x1D71C, 0x1D736),
    "double-struck": (0x1D538, 0x1D552, 0x1D7D8, None, None),
    "sans-serif": (0x1D5A0, 0x1D5BA, 0x1D7E2, None, None),
    "monospace": (0x1D670, 0x1D68A, 0x1D7F6, None, None),
}
#: Letters that Unicode had before the mathematical alphanumerics, whose places there are empty.
_HOLES = {("italic", "h"): "\u210E", **{("double-struck", c): chr(code) for c, code in zip(
    "CHNPQRZ", (0x2102, 0x210D, 0x2115, 0x2119, 0x211A, 0x211D, 0x2124))}}


def styled(text, variant):
    """text in variant's mathematical alphanumerics (Latin letters, digits, Greek), other characters as they are."""
    starts = _ALPHANUMERICS[variant]

    def one(c):
        if (variant, c) in _HOLES:
            return _HOLES[variant, c]
        for first, start, count in (("A", starts[0], 26), ("a", starts[1], 26), ("0", starts[2], 10),
                                    ("\u0391", starts[3], 25), ("\u03b1", starts[4], 25)):
            if start is not None and 0 <= ord(c) - ord(first) < count:
                return chr(start + ord(c) - ord(first))
        return c

    return "".join(one(c) for c in text)


class Refused(ValueError):
    """A formula whose MathML holds something outside the whitelist."""


def _element(node):
    """node, a parsed MathML element, written again from the whitelist; Refused otherwise."""
    tag = node.tag[len(MATHML):] if node.tag.startswith(MATHML) else None
    if tag not in ELEMENTS:
        raise Refused(node.tag)
    attributes, text = [], node.text or ""
    for name, value in node.attrib.items():
        if name not in ATTRIBUTES:
            raise Refused(name)
        if name == "mathvariant" and value in _ALPHANUMERICS and not len(node):
            text = styled(text, value)
            value = "normal"
        attributes.append(f' {name}="{html.escape(value, quote=True)}"')
    inside = html.escape(text, quote=False)
    for child in node:
        inside += _element(child) + html.escape(child.tail or "", quote=False)
    return f"<{tag}{''.join(attributes)}>{inside}</{tag}>"


def mathml(tex, display):
    """The MathML of tex, display "inline" or "block", from the whitelist; None if there is none."""
    try:
        return _element(ElementTree.fromstring(convert(tex, display=display)))
    except Exception:  # latex2mathml's errors, XML that does not parse, Refused: the TeX is shown instead
        return None


class OfflineMathRenderer(IPythonRenderer):
    """nbconvert's markdown renderer with each formula as MathML (or, failing that, its TeX, escaped)."""

    def inline_math(self, body):
        return mathml(body, "inline") or super().inline_math(body)

    def block_math(self, body):
        return mathml(body, "block") or super().block_math(body)

    def latex_environment(self, name, body):
        return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block") or super().latex_environment(name, body)


class OfflineMathExporter(HTMLExporter):
    """HTMLExporter whose pages draw their formulas as MathML and load no MathJax (see the module)."""

    @default("template_paths")
    def _template_paths(self, prune=True, root_dirs=None):
        return [str(TEMPLATES), *super()._template_paths(prune=prune, root_dirs=root_dirs)]

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        renderer = OfflineMathRenderer(
            escape=False, attachments=cell.get("attachments", {}), embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text, exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options)
        return MarkdownWithMath(renderer=renderer).render(source)
