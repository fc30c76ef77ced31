"""A student's notebook bytes, screened before nbformat or nbgrader parse them: `screen_notebook`.

nbformat and nbgrader turn every JSON value of a notebook into Python objects, copy them several
times and write them back indented, a line of a source or an output as a value of its own: a
notebook of 5.75 MiB holding a million empty objects cost 4.3 GB for 93 s in the worker (outside
the sandbox), and a 362 KiB one nested 300 deep grew past 48 MiB when written.  `screen_notebook`
bounds what they will see, without building anything, in bounded memory and time: size, UTF-8,
nesting depth, objects and arrays, values and lines, cells.

How: the bytes are scanned in chunks of 256 KiB with bytes methods only (C loops, never a Python
loop per byte).  If a chunk holds a backslash, `codecs.escape_decode` pairs each backslash with
the byte it escapes, left to right, after a `translate` has written every byte as one of the
letters it decodes (see _LETTERS): an escaped quote, bracket or comma comes out as a control byte
and is dropped; an escaped n, r or f (a line break) comes out as a newline and is counted.  A
chunk ending with a backslash that escapes the next chunk's first byte gives that backslash to the
next chunk.  Then everything but quotes, brackets and commas is deleted, adjacent quotes (nothing
that counts between them) are dropped, and the quotes left split the chunk into text outside and
inside strings.  Only the brackets outside strings, at most twice MAX_CONTAINERS, are looked at one
by one.  A multi-byte UTF-8 sequence holds no ASCII byte, so this is exact for UTF-8 text; on text
that is not JSON it may differ from a JSON parser only after the first error, where nbformat stops.
"""
import codecs

#: The largest notebook handed to nbformat (the submission folder's limit too).
MAX_NOTEBOOK_BYTES = 32 * 2 ** 20
#: Deepest JSON nesting, the notebook's own object being 1.  Measured: the course's notebooks are
#: 5 deep; executed, with their figures, 7 (backprop) and 10 (heights).
MAX_DEPTH = 32
#: Most JSON objects and arrays.  Measured: 121-155 in the course's notebooks, 215-217 executed.
#: nbformat alone (read, validate, copy, write) takes 10 s and 174 MiB for 100,000 empty objects.
MAX_CONTAINERS = 100_000
#: Most JSON values and lines: the commas outside strings, plus the objects and arrays (each value
#: but the first of a container follows a comma), plus the line breaks inside strings (escaped
#: \\n \\r \\f, _ESCAPED_LINE_BREAKS, and U+0085, U+2028, U+2029 as they are: str.splitlines' breaks,
#: which nbformat writes as values of their own); the strings may be at most twice as many (a name
#: and a value per member).  Measured: 787-1,206 in the course's notebooks, 1,380-1,423 executed.
#: nbformat alone takes 5-6 s and 74-108 MiB for a million numbers or short strings, and 1.1 s and
#: 172 MiB to write a string of a million lines (11.5 MiB written from 3.8).
MAX_VALUES = 1_000_000
#: Most cells, counted as the objects and arrays at depth 3 (in nbformat 4: the cells, and the few
#: entries of the notebook's metadata such as kernelspec).  Measured: 29-37.
MAX_CELLS = 10_000

_CHUNK = 2 ** 18
#: For escape_decode, every byte as one it decodes after a backslash: quote v, opening bracket a,
#: closing b, comma r, n r f (escaped: line breaks) n, u f; digits 0 1 2 as such, 8 as 3, others as
#: 7 (octal escapes), so that a \\uXXXX is told by its first hex digits; backslash kept, all else t.
_LETTERS = bytes(dict(zip(b'\\"[{]},nrfu0123456789', b"\\vaabbrnnnf0127777737")).get(byte, ord("t"))
                 for byte in range(256))
_FROM_LETTERS = bytes.maketrans(b"vabr", b'"[],')
_NOT_LETTER = bytes(b for b in range(256) if b not in b"vabr")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{},')
_RAW_LINE_BREAKS = ("\u0085".encode(), "\u2028".encode(), "\u2029".encode())
#: After escape_decode, \\uXXXX escapes of U+0000-001F, U+0080-008F and U+2020-202F (an upper bound
#: of those of line breaks): \\u as a form feed, then the first three hex digits as in _LETTERS.
_ESCAPED_LINE_BREAKS = (b"\f000", b"\f001", b"\f003", b"\f202")
_OPENING = frozenset(b"[{")


def _cut(tail, head, patterns):
    """How many of patterns occur across the end of tail and the start of head (neither in one nor the other)."""
    return sum((tail + head).count(pattern) - tail.count(pattern) - head.count(pattern) for pattern in patterns)


def screen_notebook(data):
    """Why the bytes data of a notebook must not be handed to nbformat or nbgrader, or None if they may.

    data: bytes.  Returns a text (a reason, without the notebook's name) or None.  Refused: more
    than MAX_NOTEBOOK_BYTES; not UTF-8; JSON nested deeper than MAX_DEPTH; more than
    MAX_CONTAINERS objects and arrays, MAX_VALUES values and lines, or MAX_CELLS cells; a closing
    bracket never opened; an end inside a string or inside brackets (a truncated file).  Anything
    else that is not a notebook (not JSON, not nbformat's schema) is passed: nbformat raises on it
    as before, within these bounds.  Memory: a few times 256 KiB; time: linear, C loops.
    """
    if len(data) > MAX_NOTEBOOK_BYTES:
        return f"the notebook is {len(data) / 2 ** 20:.1f} MiB, more than {MAX_NOTEBOOK_BYTES // 2 ** 20} MiB"
    decoder = codecs.getincrementaldecoder("utf-8")()
    depth = containers = commas = lines = quotes = cells = 0
    in_string, start, escaped_tail = False, 0, b""
    while start < len(data):
        end = min(start + _CHUNK, len(data))
        chunk = data[start:end]
        if 0x5C in chunk:
            letters = chunk.translate(_LETTERS)
            try:
                decoded = codecs.escape_decode(letters)[0]
            except ValueError:  # it ends with a backslash escaping what comes next: both go to the next chunk
                if end == len(data):
                    return "the notebook's JSON is cut short (it ends inside a string)"
                chunk, end = chunk[:-1], end - 1
                decoded = codecs.escape_decode(letters[:-1])[0]
            lines += decoded.count(b"\n") + (sum(map(decoded.count, _ESCAPED_LINE_BREAKS)) if 0x0C in decoded else 0)
            kept = decoded.translate(_FROM_LETTERS, _NOT_LETTER)
        else:
            decoded, kept = chunk[:3].translate(_LETTERS), chunk.translate(None, _NOT_STRUCTURE)
        lines += _cut(escaped_tail, decoded[:3], _ESCAPED_LINE_BREAKS)  # \\uXXXX cut by the chunk's start
        escaped_tail = (escaped_tail + (decoded[-3:] if 0x5C in chunk else chunk[-3:].translate(_LETTERS)))[-3:]
        if not chunk.isascii():
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "the notebook is not UTF-8 text"
            lines += sum(map(chunk.count, _RAW_LINE_BREAKS)) + _cut(data[max(start - 2, 0):start], chunk[:2],
                                                                    _RAW_LINE_BREAKS)
        start = end
        found = kept.count(b'"')
        quotes += found
        if quotes > 4 * MAX_VALUES:
            return f"the notebook holds more than {MAX_VALUES:,} JSON values and lines"
        if not found:
            outside = b"" if in_string else kept
        else:
            pieces = kept.replace(b'""', b"").split(b'"')
            outside = b"".join(pieces[1 if in_string else 0::2])
            in_string ^= len(pieces) % 2 == 0
        commas += outside.count(b",")
        brackets = outside.translate(None, b",")
        opened = containers + brackets.count(b"[") + brackets.count(b"{")
        if opened > MAX_CONTAINERS:
            return f"the notebook holds more than {MAX_CONTAINERS:,} JSON objects and arrays"
        if opened + commas + lines > MAX_VALUES:
            return f"the notebook holds more than {MAX_VALUES:,} JSON values and lines"
        for byte in brackets:
            if byte in _OPENING:
                depth += 1
                containers += 1
                if depth > MAX_DEPTH:
                    return f"the notebook's JSON is nested more than {MAX_DEPTH} deep"
                if depth == 3:
                    cells += 1
                    if cells > MAX_CELLS:
                        return f"the notebook holds more than {MAX_CELLS:,} cells"
            else:
                depth -= 1
                if depth < 0:
                    return "the notebook's JSON closes a bracket it never opened"
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "the notebook is not UTF-8 text"
    if in_string or depth:
        return "the notebook's JSON is cut short (it ends inside a string or inside brackets)"
    return None
