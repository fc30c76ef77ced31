"""The audit as files: reports/audit/<assignment>/mutants.csv and index.html (one self-contained page).

mutants.csv: one row per mutant (function, operator, line, change, diff, truth, why, points, max
points, verdict, mistakes, seconds), points being the least its function got over the grader's
seeds.  index.html: the mutation score per function and per operator (killed or partly killed,
out of the mutants the truth finds wrong), every mutant that breaks the rule with its diff, and
how the audit was run.  No network, no script.
"""
import csv
import html
from collections import Counter

from coursetools.audit.run import BREAKS
from coursetools.report.page import csv_row

COLUMNS = ("function", "operator", "line", "change", "diff", "truth", "why", "points", "max_points", "verdict",
           "mistakes", "seconds")


def _least(judged):
    own = judged.mutant.function
    return min((points[own] for points in judged.points.values()), default="")


def write_csv(results, maxima, path):
    """mutants.csv: one row per Judged in results."""
    with open(path, "w", newline="") as out:
        table = csv.writer(out)
        table.writerow(COLUMNS)
        for judged in results:
            m = judged.mutant
            mistakes = sorted({found.get(m.function, "") for found in judged.mistakes.values()} - {""})
            table.writerow(csv_row([m.function, m.operator, m.line, m.change, m.diff, judged.truth, judged.why,
                                    _least(judged), maxima[m.function], judged.verdict, " ".join(mistakes),
                                    f"{judged.seconds:.2f}"]))


def scores(results, key):
    """{group: Counter of verdicts, plus 'mutants', 'wrong', 'equivalent'} with results grouped by key(judged)."""
    found = {}
    for judged in results:
        counts = found.setdefault(key(judged), Counter())
        counts["mutants"] += 1
        counts[judged.truth] += 1
        counts[judged.verdict] += 1
    return found


def score_line(counts):
    """The mutation score of a group: killed or partly killed, out of wrong mutants, as text."""
    wrong = counts["wrong"]
    caught = counts["killed"] + counts["partly-killed"]
    return f"{caught}/{wrong} = {caught / wrong:.1%}" if wrong else "no wrong mutants"


def _table(title, groups):
    heads = ("mutants", "wrong", "equivalent", "killed", "partly-killed", "survivor", "kept", "false-rejection",
             "collateral", "timeout")
    rows = ["<tr><th>" + html.escape(title) + "</th>" + "".join(f"<th>{h}</th>" for h in heads)
            + "<th>mutation score</th></tr>"]
    for group, counts in groups.items():
        rows.append(f"<tr><td>{html.escape(str(group))}</td>" + "".join(
            f"<td class='{'bad' if h in BREAKS and counts[h] else ''}'>{counts[h]}</td>" for h in heads)
            + f"<td>{score_line(counts)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _listing(judged):
    m = judged.mutant
    points = "; ".join(f"seed {seed}: " + ", ".join(f"{f} {p:g}" for f, p in found.items())
                       for seed, found in judged.points.items())
    return (f"<div class='mutant'><p><b>{html.escape(judged.verdict)}</b> {html.escape(m.function)}, "
            f"{html.escape(m.operator)} ({html.escape(m.change)}), line {m.line}: truth {judged.truth}"
            f"{': ' + html.escape(judged.why) if judged.why else ''}</p><p>points: {html.escape(points)}</p>"
            f"<pre>{html.escape(m.diff)}</pre></div>")


def write_html(subject, results, settings, path):
    """index.html: the scores, the mutants that break the rule, and settings (a dict of how it ran)."""
    broken = [j for j in results if j.verdict in BREAKS]
    partly = [j for j in results if j.verdict == "partly-killed"]
    style = ("body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #999;padding:2px 6px;text-align:right}td:first-child{text-align:left}"
             ".bad{background:#D55E00;color:white}pre{background:#eee;padding:4px}")
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Mutation audit: {html.escape(subject.assignment)}"
             f"</title><style>{style}</style></head><body>",
             f"<h1>Mutation audit of {html.escape(subject.assignment)} ({html.escape(subject.notebook)})</h1>",
             f"<p>{len(results)} distinct mutants; {len(broken)} break the rule "
             f"({'the grades are fair on every mutant' if not broken else 'see below'}).</p>",
             "<h2>Per function</h2>", _table("function", scores(results, lambda j: j.mutant.function)),
             "<h2>Per operator</h2>", _table("operator", scores(results, lambda j: j.mutant.operator)),
             f"<h2>Mutants that break the rule ({len(broken)})</h2>", *map(_listing, broken),
             f"<h2>Wrong mutants that keep some points ({len(partly)})</h2>",
             "<p>Their function passes a test (usually the visible one, on the notebook's sizes) and fails the "
             "others: it loses points, only its own.</p>", *map(_listing, partly),
             "<h2>How it ran</h2><ul>",
             *(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in settings.items()),
             "</ul></body></html>"]
    path.write_text("\n".join(parts), encoding="utf-8")


def write(root, subject, results, settings):
    """Write reports/audit/<assignment>/ under root; return the folder."""
    from pathlib import Path

    folder = Path(root) / "reports" / "audit" / subject.assignment
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(results, subject.maxima(), folder / "mutants.csv")
    write_html(subject, results, settings, folder / "index.html")
    return folder
