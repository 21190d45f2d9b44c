"""Compile .py files to unchecked-hash .pyc, with paths relative to the environment root.

Unchecked-hash pycs are never re-validated against source mtimes, so a tree
synced by version control (which loses mtimes) or served read-only still
imports without recompiling. co_filename is stored relative to the root, so no
build path lands in a pyc; the import system rewrites it to the real path on load.

Like pip, a file that does not compile (a template named *.py, code for
another Python version) is left without bytecode and reported, never a
failure. CPython's deliberately broken test data is skipped silently.

Incremental: a file whose pyc already is an unchecked-hash pyc of exactly this
source (same source hash in its header) is skipped, so a stage recompiles only
what it installed, not the files it inherited from the previous stage.

usage: python compile.py [--previous INPUT] ROOT DIR [DIR ...]   (DIRs relative to ROOT)
  --previous: the stage ROOT was hard-linked from; files still linked to it
  (source and pyc) are skipped without being read.
"""
import importlib.util
import os
import py_compile
import re
import sys

# Files CPython's own installer skips (Makefile's COMPILEALL_OPTS, every
# supported version's layout): deliberately broken test data.
SKIP = re.compile(
    r"[\\/](bad_coding|badsyntax|lib2to3[\\/]tests[\\/]data|test[\\/]test_lib2to3[\\/]data"
    r"|test[\\/]tokenizedata|test[\\/]encoded_modules[\\/]module_koi8_r)"
)
MODE = py_compile.PycInvalidationMode.UNCHECKED_HASH


def up_to_date(source):
    try:
        cfile = importlib.util.cache_from_source(source)
        with open(cfile, "rb") as f:
            header = f.read(16)
        if len(header) < 16 or header[:4] != importlib.util.MAGIC_NUMBER:
            return False
        flags = int.from_bytes(header[4:8], "little")
        if flags != 0b01:  # hash-based, unchecked
            return False
        with open(source, "rb") as f:
            return header[8:16] == importlib.util.source_hash(f.read())
    except OSError:
        return False


def same_file(a, b):
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return sa.st_ino == sb.st_ino and sa.st_dev == sb.st_dev


def inherited(full, root, previous):
    """The source and its pyc are both the previous stage's files, hard-linked: nothing to do."""
    if previous is None:
        return False
    earlier = os.path.join(previous, os.path.relpath(full, root))
    if not same_file(full, earlier):
        return False
    return same_file(importlib.util.cache_from_source(full), importlib.util.cache_from_source(earlier))


def stale_files(root, rel, previous=None):
    directory = os.path.join(root, rel)
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            full = os.path.join(dirpath, name)
            if SKIP.search(full) or inherited(full, root, previous) or up_to_date(full):
                continue
            # ddir: the folder as recorded in co_filename, relative to the root.
            yield full, os.path.relpath(dirpath, root).replace(os.sep, "/")


def compile_one(item):
    """None when compiled, else the file (its error is reported by name, as pip does)."""
    full, ddir = item
    try:
        py_compile.compile(full, dfile=ddir + "/" + os.path.basename(full), doraise=True, invalidation_mode=MODE)
        return None
    except (py_compile.PyCompileError, SyntaxError, ValueError, UnicodeError):
        return full


def main():
    args = sys.argv[1:]
    previous = None
    if args and args[0] == "--previous":
        previous = os.path.abspath(args[1])
        args = args[2:]
    root = os.path.abspath(args[0])
    todo = [item for rel in args[1:] if os.path.isdir(os.path.join(root, rel)) for item in stale_files(root, rel, previous)]
    # A process pool costs ~0.1 s to start: worth it from a few dozen files.
    if len(todo) > 48 and (os.cpu_count() or 1) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor() as pool:
            results = list(pool.map(compile_one, todo, chunksize=8))
    else:
        results = [compile_one(item) for item in todo]
    failed = sorted(os.path.relpath(f, root).replace(os.sep, "/") for f in results if f)
    if failed:
        shown = ", ".join(failed[:5]) + (", ..." if len(failed) > 5 else "")
        print(
            "warning: %d file%s did not compile for Python %d.%d and %s left without bytecode (as pip does): %s"
            % (len(failed), "" if len(failed) == 1 else "s", sys.version_info[0], sys.version_info[1], "is" if len(failed) == 1 else "are", shown)
        )


if __name__ == "__main__":
    main()
