"""Reading what `make report` wrote, and counting the same from the gradebook: helpers of the report tests."""
import csv
from collections import Counter


def read_csv(path):
    """The rows of a CSV file the report wrote, as dicts."""
    with open(path, newline="") as rows:
        return list(csv.DictReader(rows))


def mistakes_of(row):
    """{function: mistake} of a row of submissions.csv, for the functions that lost points."""
    return {key.removesuffix("_mistake"): value for key, value in row.items() if key.endswith("_mistake") and value}


def outcome_counts(scores):
    """functions.csv's rows as counted directly from function_scores()."""
    functions = next(iter(scores.values())).keys()
    rows = []
    for function in functions:
        counts = Counter("full" if s >= m else "zero" if s <= 0 else "partial"
                         for s, m in (student[function] for student in scores.values()))
        rows.append({"function": function, "submissions": str(len(scores)), "full": str(counts["full"]),
                     "partial": str(counts["partial"]), "zero": str(counts["zero"])})
    return rows
