"""Student notebooks screened before nbformat parses them (coursetools.grading.screen).

Fast: bytes in, a reason or None out; no kernel.  The worst cases' timings are printed, not asserted.
"""
import json
import random
import time
from pathlib import Path

import pytest

from coursetools.grading import screen
from coursetools.grading.screen import screen_notebook

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted([*REPO.glob("*.ipynb"), *REPO.glob("source/*/*.ipynb"), *REPO.glob("release/*/*.ipynb")])
#: The backprop notebook, from the release (others regenerate it at times) or its copy at the top.
RELEASE = next(p for p in (REPO / "release" / "backprop" / "1-Backpropagation.ipynb",
                           REPO / "1-Backpropagation.ipynb") if p.exists())


def with_metadata(raw):
    """The release notebook's bytes with raw (JSON text, bytes) as its first cell's metadata "x"."""
    notebook = json.loads(RELEASE.read_bytes())
    notebook["cells"][0]["metadata"]["x"] = "PLACEHOLDER"
    return json.dumps(notebook, indent=1).encode().replace(b'"PLACEHOLDER"', raw, 1)


def counts(document):
    """(depth, containers, cells) of a parsed JSON document."""
    depth = containers = cells = 0
    stack = [(document, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            depth, containers, cells = max(depth, level), containers + 1, cells + (level == 3)
            stack.extend((item, level + 1) for item in (value.values() if isinstance(value, dict) else value))
    return depth, containers, cells


def reference(data):
    """(depth, containers, values and lines, cells) of JSON bytes by a plain scan, one character at a time."""
    depth = deepest = containers = commas = lines = cells = 0
    in_string = escaped = False
    text = data.decode("utf-8")
    for at, char in enumerate(text):
        if escaped:
            escaped = False
            lines += char in "nrf" or char == "u" and text[at + 1:at + 4] in ("000", "001", "008", "202")
        elif in_string:
            escaped, in_string = char == "\\", char != '"'
            lines += char in "\x85\u2028\u2029"
        elif char in "[{":
            depth, containers = depth + 1, containers + 1
            deepest, cells = max(deepest, depth), cells + (depth == 3)
        else:
            in_string, depth, commas = char == '"', depth - (char in "]}"), commas + (char == ",")
    return deepest, containers, containers + commas + lines, cells


def test_every_committed_notebook_is_accepted():
    assert len(COMMITTED) >= 4  # 6 in git: the two top-level notebooks, source/ and release/ (regenerated at times)
    for path in COMMITTED:
        data = path.read_bytes()
        assert screen_notebook(data) is None, path
        depth, containers, values, cells = reference(data)
        assert (depth, containers, cells) == counts(json.loads(data))
        assert depth <= 5 and containers < 200 and values < 1500 and cells < 50


def test_finding_a_a_million_empty_objects_in_cell_metadata_is_refused():
    data = with_metadata(b"[" + b"{}, " * 999_999 + b"{}]")
    assert 2.5 * 2 ** 20 < len(data) < 6 * 2 ** 20
    assert screen_notebook(data) == "the notebook holds more than 100,000 JSON objects and arrays"


def test_a_string_of_a_million_lines_is_refused():
    notebook = json.loads(RELEASE.read_bytes())
    for breaks in ("\n", "\u2028", "\r\n", "\x85", "\x1e"):
        notebook["cells"][0]["source"] = ("ab" + breaks) * 1_000_000
        for ascii_only in (True, False):
            data = json.dumps(notebook, ensure_ascii=ascii_only).encode()
            assert screen_notebook(data) == "the notebook holds more than 1,000,000 JSON values and lines"


def test_text_escaped_as_ascii_is_not_counted_as_lines():
    notebook = json.loads(RELEASE.read_bytes())
    notebook["cells"][0]["source"] = "中文 é " * 500_000
    data = json.dumps(notebook, ensure_ascii=True).encode()
    assert data.count(b"\\u") > 1_400_000 and screen_notebook(data) is None


def test_finding_b_cell_metadata_nested_300_deep_is_refused():
    data = with_metadata(b'{"a": ' * 300 + b"1" + b"}" * 300)
    assert screen_notebook(data) == "the notebook's JSON is nested more than 32 deep"


def test_depth_exactly_at_the_limit_is_accepted_and_one_more_is_refused():
    # notebook 1, cells 2, cell 3, metadata 4, then x's arrays from 5 on
    at_limit = with_metadata(b"[" * (screen.MAX_DEPTH - 4) + b"]" * (screen.MAX_DEPTH - 4))
    assert reference(at_limit)[0] == screen.MAX_DEPTH
    assert screen_notebook(at_limit) is None
    deeper = with_metadata(b"[" * (screen.MAX_DEPTH - 3) + b"]" * (screen.MAX_DEPTH - 3))
    assert screen_notebook(deeper) == "the notebook's JSON is nested more than 32 deep"


def test_containers_values_and_cells_exactly_at_their_limits(monkeypatch):
    notebook = json.loads(RELEASE.read_bytes())
    notebook["cells"][0]["metadata"]["x"] = [{}, [1, 2, "three"], {"a": [None, True]}, "1\n2\r3\u2028"]
    data = json.dumps(notebook, ensure_ascii=False).encode()
    depth, containers, values, cells = reference(data)
    assert (depth, containers, cells) == counts(notebook)
    for name, exact, reason in (("MAX_CONTAINERS", containers, "JSON objects and arrays"),
                                ("MAX_VALUES", values, "JSON values and lines"), ("MAX_CELLS", cells, "cells")):
        monkeypatch.setattr(screen, name, exact)
        assert screen_notebook(data) is None
        monkeypatch.setattr(screen, name, exact - 1)
        assert screen_notebook(data).endswith(f"more than {exact - 1:,} {reason}")
        monkeypatch.undo()
    assert cells == len(notebook["cells"]) + len(notebook["metadata"])


def test_brackets_quotes_and_backslashes_inside_strings_are_not_counted(monkeypatch):
    tricky = ['a"[{', "\\", '\\"', '\\\\"[', "[[[[{{{{", "]]]]}}}}", ",,,,", "\\\\\\", '"' * 7, "é😀", "\n\t\u2028"]
    notebook = json.loads(RELEASE.read_bytes())
    notebook["cells"][0]["metadata"]["x"] = tricky * 50
    notebook["cells"][0]["metadata"]["y"] = "a\\\"[{" * 10_000
    data = json.dumps(notebook, ensure_ascii=False).encode()
    depth, containers, values, cells = reference(data)
    assert (depth, containers, cells) == counts(notebook)
    for chunk in (2, 3, 7, 64, 2 ** 18):
        monkeypatch.setattr(screen, "_CHUNK", chunk)
        monkeypatch.setattr(screen, "MAX_DEPTH", depth)
        monkeypatch.setattr(screen, "MAX_CONTAINERS", containers)
        monkeypatch.setattr(screen, "MAX_VALUES", values)
        assert screen_notebook(data) is None, chunk
        monkeypatch.setattr(screen, "MAX_DEPTH", depth - 1)
        assert "nested more than" in screen_notebook(data)


def random_document(rng, level=1):
    """A random JSON value whose strings are full of what could mislead a scanner."""
    pieces = ['"', "\\", "[", "]", "{", "}", ",", ":", "a", " ", "é", "😀", "\n", "\r", "\f", "\x00", "\\u", "/",
              "\x85", "\u2028", "\u2029", "\u202f", "\x1b", "\x8f", "\xa0", "n", "u", "0", "8", "\\u0008"]
    kind = rng.random() if level < 8 else 1.0
    if kind < 0.3:
        return [random_document(rng, level + 1) for _ in range(rng.randrange(4))]
    if kind < 0.6:
        return {"".join(rng.choices(pieces, k=rng.randrange(4))): random_document(rng, level + 1)
                for _ in range(rng.randrange(4))}
    return rng.choice([None, True, 1.5, -3, "".join(rng.choices(pieces, k=rng.randrange(12)))])


@pytest.mark.parametrize("seed", range(40))
def test_counts_agree_with_a_json_parser_at_any_chunk_boundary(monkeypatch, seed):
    rng = random.Random(seed)
    document = {"cells": [random_document(rng, 3) for _ in range(rng.randrange(1, 5))], "metadata": {}}
    data = json.dumps(document, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1])).encode()
    depth, containers, values, cells = reference(data)
    assert (depth, containers, cells) == counts(document)
    for chunk in (2, 3, 5, 16):
        monkeypatch.setattr(screen, "_CHUNK", chunk)
        for name, exact in (("MAX_DEPTH", depth), ("MAX_CONTAINERS", containers), ("MAX_VALUES", values),
                            ("MAX_CELLS", cells)):
            monkeypatch.setattr(screen, name, exact)
            assert screen_notebook(data) is None, (chunk, name)
            if exact:  # a limit of -1 means nothing
                monkeypatch.setattr(screen, name, exact - 1)
                assert screen_notebook(data) is not None, (chunk, name)
            monkeypatch.setattr(screen, name, 10 ** 9)


@pytest.mark.parametrize("bad", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80"])
def test_text_that_is_not_utf8_is_refused(monkeypatch, bad):
    data = with_metadata(b'"caf' + bad + b'"')
    assert screen_notebook(data) == "the notebook is not UTF-8 text"
    monkeypatch.setattr(screen, "_CHUNK", 3)
    assert screen_notebook(data) == "the notebook is not UTF-8 text"
    assert screen_notebook(with_metadata('"€😀é"'.encode())) is None  # multi-byte sequences cut by chunks


def test_a_truncated_notebook_is_refused_not_parsed():
    data = RELEASE.read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 2):
        assert screen_notebook(data[:cut]).startswith("the notebook's JSON is cut short")
    assert screen_notebook(b'{"a": "b\\').startswith("the notebook's JSON is cut short")
    assert screen_notebook(b'{"a": 1}}') == "the notebook's JSON closes a bracket it never opened"


def test_other_text_that_is_not_a_notebook_is_left_to_nbformat():
    for data in (b"", b"not json", b'{"a": 1} trailing', b"[1, 2,]"):
        assert screen_notebook(data) is None


def test_more_than_32_mib_is_refused_without_scanning():
    data = b" " * (screen.MAX_NOTEBOOK_BYTES + 1)
    assert screen_notebook(data) == "the notebook is 32.0 MiB, more than 32 MiB"


def worst_cases():
    """32 MiB notebooks of the kinds that cost the scanner most (measured), each accepted or refused."""
    size = screen.MAX_NOTEBOOK_BYTES - 200_000
    line = b'"    x = f(a, [b]) + g({c: d}) \\\\ \\"q\\" text text text text text text text text text text\\n",\n'
    return {
        "backslashes": with_metadata(b'"' + b"\\\\" * (size // 2) + b'"'),
        "escaped quotes": with_metadata(b'"' + b'\\\\\\"' * (size // 4) + b'"'),
        "brackets in a string": with_metadata(b'"' + b"[{" * (size // 2) + b'"'),
        "strings of commas and brackets": with_metadata(b"[" + b'",[",' * (size // 5) + b"1]"),
        "unicode escapes": with_metadata(b'"' + b"\\u00e9" * (size // 6) + b'"'),
        "99,000 objects then text": with_metadata(b"[" + b"{}," * 99_000 + b'"' + b"ab" * (size // 2 - 150_000)
                                                  + b'"]'),
        "330,000 lines of code": with_metadata(b"[" + line * (size // len(line)) + b'""]'),
        "accented text": with_metadata('"{}"'.format("é" * (size // 2)).encode()),
        "line breaks": with_metadata(b'"' + b"\\n" * (size // 2) + b'"'),
    }


def test_worst_cases_timed(capsys):
    """Printed, not asserted (timings depend on the machine): memory was measured apart, under 8 MiB traced."""
    for name, data in worst_cases().items():
        started = time.perf_counter()
        reason = screen_notebook(data)
        seconds = time.perf_counter() - started
        with capsys.disabled():
            print(f"\nscreen_notebook, {name}: {len(data) / 2 ** 20:.1f} MiB in {seconds:.3f} s: "
                  f"{reason or 'accepted'}", end="")
        assert len(data) <= screen.MAX_NOTEBOOK_BYTES
