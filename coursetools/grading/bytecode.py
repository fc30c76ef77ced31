"""The instructor's modules compiled once per run, on the client, and their bytecode shipped in the bundle.

A submission imports the assignment's helper and checks modules twice in the grader's process
(the grader's cases, then judging) and once more in its kernel, each time from a folder made for
that submission, where no bytecode was ever cached: some 40 compilations a submission.
`compile_sources` compiles each module of the bundle once, into hash-checked bytecode (PEP 552):
Python uses such a file only while the source beside it hashes to the value it records, whatever
the file times say.  So bytecode written next to any other source (a learner's file of the same
name) is never run; Python compiles that source as it would have without it.

`write_bytecode` puts the bytecode into a folder beside its sources: the private course's copy of
the source folder, and the kernel's working folder, which the kernel sees read-only and so could
cache nothing in itself.
"""
import contextlib
import importlib.util
import os
import py_compile
import tempfile
from pathlib import Path


def compile_sources(files):
    """{relative path of the bytecode: bytes} of each module (".py") of files, {relative path: bytes}.

    The paths are those `importlib.util.cache_from_source` gives (`pkg/__pycache__/name.<tag>.pyc`); a
    module that does not compile is left out (its import fails where it is run, as it would anyway).
    """
    compiled = {}
    with tempfile.TemporaryDirectory() as folder:
        for relative, content in sorted(files.items()):
            if not relative.endswith(".py"):
                continue
            source = Path(folder) / relative
            source.parent.mkdir(parents=True, exist_ok=True)
            source.write_bytes(content)
            target = importlib.util.cache_from_source(str(source))
            with contextlib.suppress(py_compile.PyCompileError, ValueError, OSError):
                py_compile.compile(str(source), cfile=target, doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
                compiled[os.path.relpath(target, folder)] = Path(target).read_bytes()
    return compiled


def write_bytecode(folder, bytecode):
    """Write each of bytecode ({relative path: bytes}, as compile_sources gives) under folder, beside its source.

    Only where the source is a file of folder's own (not a link, not missing): bytecode for a
    module that is not there, or whose path leaves folder, is not written.
    """
    top = os.path.realpath(folder)
    for relative, content in bytecode.items():
        path = os.path.join(top, relative)
        try:
            source = importlib.util.source_from_cache(path)
        except ValueError:  # not a path of bytecode for this Python
            continue
        if os.path.commonpath([top, os.path.realpath(os.path.dirname(path))]) != top:
            continue
        if os.path.isfile(source) and not os.path.islink(source):
            with contextlib.suppress(OSError):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(content)
