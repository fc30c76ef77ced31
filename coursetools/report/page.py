"""A ClassReport as files: `index.html` (one self-contained page, its figures embedded) and CSV tables.

Every number on the page comes from the ClassReport, which `coursetools.report.data` counted from
the gradebook and the journal; the figures are matplotlib PNGs in data: URLs, so the page needs
no network and no other file.
"""
import base64
import csv
import html
import io
import statistics

from coursetools.outcome import KINDS, NO_DIAGNOSIS, stage_percentiles
from coursetools.report.data import MANUAL, NOT_CHECKED, UNRECORDED

#: Okabe-Ito colours, told apart with every common colour-vision deficiency.
FULL, PARTIAL, ZERO, WAITING = "#009E73", "#E69F00", "#D55E00", "#56B4E9"
BARS = "#0072B2"
#: Mistakes shown per function on the page (mistakes.csv has them all).
TOP_MISTAKES = 5
MEANINGS = {**KINDS, NO_DIAGNOSIS: "lost points in the notebook, though the grader's own call found its answers right",
            UNRECORDED: "graded without coursetools' grader (stock nbgrader), so no mistake was recorded",
            MANUAL: "a cell of it awaits a manual grade (nbgrader's formgrader): 0 points until it is graded",
            NOT_CHECKED: "lost points in the notebook (a failed test, an error, an answer left blank); no checks "
                         "module covers it, so the grader has no diagnosis of its own"}


def csv_row(cells):
    """cells as a CSV row that no spreadsheet runs: text starting with = + - @, a tab or a return gets a ' first."""
    return [f"'{cell}" if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
            for cell in cells]


def write_csvs(report, folder):
    """functions.csv (function, submissions, full, partial, zero) and mistakes.csv (function, mistake, submissions).

    For an assignment counted per cell (no checks module), the first column of both is "cell", and
    functions.csv has a last column, awaiting_manual_grade.
    """
    per_cell = report.unit == "cell"
    with open(folder / "functions.csv", "w", newline="") as out:
        table = csv.writer(out)
        table.writerow([report.unit, "submissions", "full", "partial", "zero",
                        *(["awaiting_manual_grade"] if per_cell else [])])
        for function in report.functions:
            counts = report.outcomes[function]
            table.writerow(csv_row([function, report.submissions, counts["full"], counts["partial"], counts["zero"],
                                    *([counts["manual"]] if per_cell else [])]))
    with open(folder / "mistakes.csv", "w", newline="") as out:
        table = csv.writer(out)
        table.writerow([report.unit, "mistake", "submissions"])
        for (function, mistake), count in ranked(report):
            table.writerow(csv_row([function, mistake, count]))


def ranked(report):
    """((function, mistake), count) in notebook order of function, most frequent mistake first."""
    order = {f: i for i, f in enumerate(report.functions)}
    return sorted(report.mistakes.items(), key=lambda item: (order.get(item[0][0], 99), -item[1], item[0][1]))


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _figure(width=6.4, height=3.2):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _whole_counts(ax):
    """Ticks at whole numbers of submissions only."""
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def totals_figure(report):
    """Bars: how many submissions scored each total."""
    figure = _figure()
    ax = figure.subplots()
    scores = sorted(report.totals)
    bars = ax.bar(scores, [report.totals[s] for s in scores], width=0.8, color=BARS)
    ax.bar_label(bars, fontsize=8)
    ax.set_xlabel(f"total points (of {report.max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_xlim(-0.8, report.max_score + 0.8)
    ax.set_title(f"Total points of {report.submissions} submissions")
    _whole_counts(ax)
    ax.spines[["top", "right"]].set_visible(False)
    return figure


def functions_figure(report):
    """Stacked bars: each part's share of full, partial and zero marks (and of those awaiting a manual grade)."""
    figure = _figure(6.4, 0.6 + 0.55 * len(report.functions))
    ax = figure.subplots()
    rows = list(reversed(report.functions))
    left = [0.0] * len(rows)
    total = max(report.submissions, 1)
    kinds = [("full", FULL, "full marks"), ("partial", PARTIAL, "partial marks"), ("zero", ZERO, "zero marks")]
    if any(report.outcomes[f]["manual"] for f in rows):
        kinds.append(("manual", WAITING, "awaiting a manual grade"))
    for outcome, colour, label in kinds:
        counts = [report.outcomes[f][outcome] for f in rows]
        shares = [100 * c / total for c in counts]
        bars = ax.barh(rows, shares, left=left, color=colour, label=label)
        ax.bar_label(bars, labels=[str(c) if s >= 6 else "" for c, s in zip(counts, shares)], label_type="center",
                     fontsize=8, color="white")
        left = [a + b for a, b in zip(left, shares)]
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"share of the {report.submissions} submissions (%); bars labelled with counts")
    ax.legend(ncols=len(kinds), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return figure


def seconds_figure(report):
    """Histogram of grading time per submission."""
    figure = _figure()
    ax = figure.subplots()
    ax.hist(report.seconds, bins=min(40, max(5, len(report.seconds) // 3)), color=BARS)
    ax.set_xlabel("grading time of one submission (s)")
    ax.set_ylabel("submissions")
    ax.set_title(f"Grading time of {len(report.seconds)} submissions graded by coursetools")
    _whole_counts(ax)
    ax.spines[["top", "right"]].set_visible(False)
    return figure


def _e(text):
    return html.escape(str(text))


def _mistakes_html(report):
    parts = []
    for function in report.functions:
        counts = report.outcomes[function]
        lost = counts["partial"] + counts["zero"] + counts["manual"]
        found = [(key, count) for key, count in ranked(report) if key[0] == function][:TOP_MISTAKES]
        parts.append(f"<h3><code>{_e(function)}</code>: {lost} of {report.submissions} submissions lost points</h3>")
        if not found:
            parts.append("<p>No points lost: every submission had full marks.</p>" if report.unit == "cell" else
                         "<p>No mistakes: every submission had full marks.</p>")
            continue
        rows = "".join(
            f"<tr><td><code>{_e(mistake)}</code><div class=meaning>{_e(MEANINGS.get(mistake, ''))}</div></td>"
            f"<td class=n>{count}</td><td class=n>{100 * count / max(lost, 1):.0f}%</td>"
            f"<td><pre>{_e(report.messages.get((function, mistake), '(no message recorded)'))}</pre></td></tr>"
            for (_, mistake), count in found)
        parts.append("<table><tr><th>mistake</th><th>submissions</th><th>of those that lost points</th>"
                     f"<th>the message a learner saw</th></tr>{rows}</table>")
    return "\n".join(parts)


def _scope_html(report):
    """What the report can say of this assignment: per function with the grader's check, per cell without."""
    if report.unit == "function":
        return ""
    return ("<p class=note>This assignment declares no checks module, so coursetools' grader graded it exactly as "
            "stock nbgrader does and has no diagnosis of its own: points are counted per graded cell "
            "(<code>notebook/cell</code> where it has several notebooks), and each cell that lost points is "
            "counted under what the grader saw (a problem of the submission, a cell awaiting a manual grade, "
            "or <code>not-checked</code>), not under a mistake.</p>")


def _notebooks_html(report):
    """Points per notebook, where the assignment has several."""
    if len(report.notebooks) < 2:
        return ""
    rows = "".join(f"<tr><td><code>{_e(name)}.ipynb</code></td><td class=n>{maximum:g}</td>"
                   f"<td class=n>{total / max(report.submissions, 1):.2f}</td><td class=n>{full}</td>"
                   f"<td class=n>{zero}</td></tr>"
                   for name, (total, maximum, full, zero) in sorted(report.notebooks.items()))
    return ("<h2>Points per notebook</h2><table><tr><th>notebook</th><th>max points</th><th>mean points</th>"
            f"<th>with full marks</th><th>with 0 points</th></tr>{rows}</table>")


def _problems_html(report):
    if not report.with_problems:
        return "<p>No submission had a problem.</p>"
    kinds = "".join(f"<tr><td><code>{_e(kind)}</code></td><td class=n>{count}</td><td>{_e(MEANINGS.get(kind, ''))}</td></tr>"
                    for kind, count in report.problems.most_common())
    listed = "".join(f"<tr><td>{_e(student)}</td><td class=n>{total:g}</td><td>{'<br>'.join(map(_e, texts))}</td></tr>"
                     for student, total, texts in report.troubled)
    more = report.with_problems - len(report.troubled)
    return (f"<p>{report.with_problems} submissions had problems.</p>"
            f"<table><tr><th>problem</th><th>times</th><th>meaning</th></tr>{kinds}</table>"
            f"<table><tr><th>student</th><th>points</th><th>why</th></tr>{listed}</table>"
            + (f"<p>and {more} more (see the grader's journal).</p>" if more > 0 else ""))


#: What each stage of a submission's grading is, as the page says it.
STAGE_MEANINGS = {"waiting": "handed out, waiting for a free worker", "setting-up":
                  "on a worker: its private course, the sandbox and the kernel started",
                  "running-cells": "the notebook's cells, the grader's own call included",
                  "judging": "nbgrader's grades read back and the grader's own call judged",
                  "writing": "back to the single writer, and committed to the gradebook"}


def _stages_html(report):
    """The median and 95th percentile of each stage (coursetools.outcome.STAGES) over the journaled submissions."""
    found = stage_percentiles(report.stages)
    if not found:
        return ""
    rows = "".join(f"<tr><td>{_e(stage)}</td><td class=n>{shares[50]:.2f}</td><td class=n>{shares[95]:.2f}</td>"
                   f"<td class=n>{len(report.stages[stage])}</td><td>{_e(STAGE_MEANINGS.get(stage, ''))}</td></tr>"
                   for stage, shares in found.items())
    return ("<table><tr><th>stage</th><th>median s</th><th>95th percentile s</th><th>submissions</th>"
            f"<th>what it is</th></tr>{rows}</table>")


STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem}td,th{border-bottom:1px solid #ddd;padding:0.3rem 0.6rem;
vertical-align:top;text-align:left}td.n{text-align:right}pre{margin:0;white-space:pre-wrap;font-size:0.8rem}
.meaning{font-size:0.8rem;color:#555}img{max-width:100%}.summary td{border:none}
.note{background:#f3f3f3;padding:0.6rem 0.8rem}"""


def write_page(report, folder, source):
    """index.html for report; source says where the numbers came from."""
    seconds = sorted(report.seconds)
    mean = sum(k * n for k, n in report.totals.items()) / max(report.submissions, 1)
    median = statistics.median_low(sorted(report.totals.elements())) if report.submissions else 0
    timing = (f"median {statistics.median(seconds):.1f} s, slowest {seconds[-1]:.1f} s" if seconds else "none journaled")
    per = f"Marks per {report.unit}"
    figures = [("Total points", totals_figure(report)), (per, functions_figure(report))]
    if seconds:
        figures.append(("Grading time", seconds_figure(report)))
    images = {title: _png(figure) for title, figure in figures}
    body = [
        f"<h1>What the class got wrong: {_e(report.assignment)}</h1>", _scope_html(report),
        "<table class=summary>"
        f"<tr><td>submissions</td><td>{report.submissions}</td></tr>"
        f"<tr><td>mean points</td><td>{mean:.2f} of {report.max_score:g} (median {median:g})</td></tr>"
        f"<tr><td>with full marks</td><td>{report.totals.get(round(report.max_score, 6), 0)}</td></tr>"
        f"<tr><td>graded by coursetools</td><td>{report.journaled}</td></tr>"
        f"<tr><td>grading time</td><td>{_e(timing)}</td></tr>"
        f"<tr><td>from</td><td>{_e(source)}</td></tr></table>",
        f"<h2>Total points</h2><img alt='total points per submission' src='{images['Total points']}'>",
        f"<h2>{per}</h2><img alt='full, partial and zero marks per {report.unit}' src='{images[per]}'>",
        _notebooks_html(report),
        "<h2>The most common mistakes</h2>" if report.unit == "function" else
        "<h2>Where points were lost</h2>", _mistakes_html(report),
        "<h2>Submissions with problems</h2>", _problems_html(report),
    ]
    if seconds:
        body.append(f"<h2>Grading time</h2><img alt='grading time per submission' src='{images['Grading time']}'>"
                    + _stages_html(report))
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(report.assignment)}: class report"
            f"</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
    (folder / "index.html").write_text(page)
