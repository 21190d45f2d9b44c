"""Compile .py files to unchecked-hash .pyc, with paths relative to the environment root.

Unchecked-hash pycs are never re-validated against source mtimes, so a tree
synced by version control (which loses mtimes) or served read-only still
imports without recompiling. co_filename is stored relative to the root, so no
build path lands in a pyc; the import system rewrites it to the real path on load.

usage: python compile.py ROOT DIR [DIR ...]   (DIRs relative to ROOT)
"""
import compileall
import os
import py_compile
import re
import sys

def main():
    root = os.path.abspath(sys.argv[1])
    # Files CPython's own installer skips: deliberately broken test data.
    skip = re.compile(r"[\\/](bad_coding|badsyntax|lib2to3[\\/]tests[\\/]data|test[\\/]tokenizedata)")
    ok = True
    for rel in sys.argv[2:]:
        directory = os.path.join(root, rel)
        if not os.path.isdir(directory):
            continue
        ok = compileall.compile_dir(
            directory,
            maxlevels=64,
            ddir=rel.replace(os.sep, "/"),
            force=True,
            rx=skip,
            quiet=1,
            workers=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        ) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
