"""Folders as data: read one into {relative path: bytes}, write it back, digest it, remove it.

Every walk here is iterative (a stack, not recursion), so a folder nested thousands of
levels deep costs time in proportion to its size and never a RecursionError; links are
never followed; only regular files are kept.
"""
import hashlib
import os
import stat


class TooLarge(ValueError):
    """A folder holds more files or bytes than the limits allow."""


def walk(top):
    """Yield (relative path, os.stat_result) of everything under top, depth first, links not followed."""
    stack = [""]
    while stack:
        relative = stack.pop()
        try:
            entries = sorted(os.scandir(os.path.join(top, relative) if relative else top), key=lambda e: e.name)
        except OSError:
            continue
        for entry in reversed(entries):
            path = os.path.join(relative, entry.name) if relative else entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield path, info
            if stat.S_ISDIR(info.st_mode):
                stack.append(path)


def read_folder(top, max_files=1000, max_bytes=64 * 2 ** 20, keep=None):
    """({relative path: bytes} of the regular files under top, [what was left out]); raise TooLarge past the limits.

    Folders themselves are not kept: a file's path names them.  Left out: links, devices, sockets.
    keep: if given, a set of relative paths: only those are read (and counted against the limits).
    """
    files, left_out, total = {}, [], 0
    for relative, info in walk(top):
        if stat.S_ISDIR(info.st_mode) or (keep is not None and relative not in keep):
            continue
        if not stat.S_ISREG(info.st_mode):
            left_out.append(relative)
            continue
        total += info.st_size
        if len(files) >= max_files or total > max_bytes:
            raise TooLarge(f"more than {max_files} files or {max_bytes // 2 ** 20} MiB")
        with open(os.path.join(top, relative), "rb") as handle:
            files[relative] = handle.read(max_bytes + 1)
    return files, sorted(left_out)


def write_folder(files, top):
    """Write {relative path: bytes} under top (made if missing); paths that would leave top are refused."""
    top = os.path.realpath(top)
    for relative, content in files.items():
        path = os.path.realpath(os.path.join(top, relative))
        if os.path.commonpath([top, path]) != top or path == top:
            raise ValueError(f"a file path leaves its folder: {relative!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)


def digest_folder(top):
    """A fingerprint of everything under top: names, link targets and contents (iterative, any depth)."""
    digest = hashlib.sha256()
    for relative, info in sorted(walk(top)):
        path = os.path.join(top, relative)
        digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
        if stat.S_ISLNK(info.st_mode):
            digest.update(b"link:" + os.readlink(path).encode("utf-8", "surrogateescape"))
        elif stat.S_ISREG(info.st_mode):
            file_digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(2 ** 20):
                    file_digest.update(chunk)
            digest.update(file_digest.digest())
    return digest.hexdigest()


def remove_tree(top):
    """Remove top and everything under it, at any depth; what cannot be removed is left, silently.

    Each folder found is first moved up to top itself (a rename), so that no path ever gets longer
    than top's plus one name, however deep the tree: deeper than a path can name is fine too.
    Folders left without write or search permission are opened up first (we are their owner or root).
    """
    if not os.path.lexists(top):
        return
    if os.path.islink(top) or not os.path.isdir(top):
        with _quiet():
            os.unlink(top)
        return
    queue, moved = [top], 0
    while queue:
        folder = queue.pop()
        with _quiet():
            os.chmod(folder, 0o700)
        try:
            entries = list(os.scandir(folder))
        except OSError:
            entries = []
        for entry in entries:
            path = os.path.join(folder, entry.name)
            with _quiet():
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(path)
                elif folder == top:
                    queue.append(path)
                else:
                    moved += 1
                    up = os.path.join(top, f".removing-{os.getpid()}-{moved}")
                    os.rename(path, up)
                    queue.append(up)
        if folder != top:
            with _quiet():
                os.rmdir(folder)
    with _quiet():
        os.rmdir(top)


class _quiet:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        return kind is not None and issubclass(kind, OSError)
