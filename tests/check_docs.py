#!/usr/bin/env python3
"""The repository's promises about itself, checked (meson test suite `docs`):

1. docs/walkthrough.md: every `path` it names exists; on each **Where:** line,
   every function named after the path is defined in that file; every line
   of every ```cpp block is, verbatim (leading spaces aside), a line of the
   file named by the **Where:** line before it.
2. Every relative link in README.md and docs/*.md points at a file that exists.
3. Nothing points outside the repository: no path into the shared folder
   beside the checkout, and no citation of its specification file, in the
   README, docs/ or the sources (OUTSIDE below).
4. The framework core (tensor/, autograd/, nn/, optim/: the CPU code) stays
   under 5,000 lines, and no source file in the repository is over 500.

Run from the repository root: python3 tests/check_docs.py
"""
import glob
import os
import re
import sys

errors = []


def fail(msg):
    errors.append(msg)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def check_walkthrough(path="docs/walkthrough.md"):
    text = read(path)
    where_file, where_lines = None, set()
    in_block = False
    for n, line in enumerate(text.splitlines(), 1):
        at = f"{path}:{n}"
        if line.startswith("```"):
            in_block = line.strip() == "```cpp"
            if in_block and where_file is None:
                fail(f"{at}: a cpp block before any **Where:** line")
            continue
        if in_block:
            if line.strip() and line.strip() not in where_lines:
                fail(f"{at}: quoted line is not in {where_file}: {line.strip()}")
            continue
        names = re.findall(r"`([^`]+)`", line)
        if line.startswith("**Where:**"):
            where_file = names[0]
            if not os.path.isfile(where_file):
                fail(f"{at}: no such file {where_file}")
                where_lines = set()
                continue
            source = read(where_file)
            where_lines = {l.strip() for l in source.splitlines()}
            for fn in names[1:]:
                if fn + "(" not in source:
                    fail(f"{at}: {where_file} defines no {fn}")
            continue
        for name in names:
            if re.fullmatch(r"[\w.-]+(/[\w.-]+)+/?", name) and not name.startswith("build/") and not os.path.exists(name):
                fail(f"{at}: no such path {name}")


def check_links():
    for doc in ["README.md"] + sorted(glob.glob("docs/*.md")):
        base = os.path.dirname(doc)
        for n, line in enumerate(read(doc).splitlines(), 1):
            for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", line):
                if "://" in target:
                    continue
                if not os.path.exists(os.path.normpath(os.path.join(base, target))):
                    fail(f"{doc}:{n}: broken link {target}")


SOURCE_GLOBS = ["*/*.cpp", "*/*.hpp", "*/*.cu", "*/*.cuh", "*/*/*.cpp", "*/*.py", "*/*.sh"]


def sources():
    out = []
    for g in SOURCE_GLOBS:
        out += [p for p in glob.glob(g) if not p.startswith(("build", "runs/", ".gpu/"))]
    return sorted(set(out))


# Spelled in pieces so that this file does not itself contain what it looks for.
OUTSIDE = ("shared" + "/", "REFERENCE" + ".md")


def check_self_contained():
    for path in ["README.md"] + sorted(glob.glob("docs/*.md")) + sources():
        for n, line in enumerate(read(path).splitlines(), 1):
            if any(needle in line for needle in OUTSIDE):
                fail(f"{path}:{n}: points outside the repository: {line.strip()}")


def check_sizes():
    core = 0
    for folder in ["tensor", "autograd", "nn", "optim"]:
        for p in glob.glob(folder + "/**/*.[ch]pp", recursive=True):
            core += len(read(p).splitlines())
    if core >= 5000:
        fail(f"the core (tensor, autograd, nn, optim) has {core} lines; the budget is under 5,000")
    for p in sources():
        lines = len(read(p).splitlines())
        if lines > 500:
            fail(f"{p}: {lines} lines; files stay at 500 or fewer")
    print(f"core: {core} lines in tensor/, autograd/, nn/, optim/ (budget 5,000)")


check_walkthrough()
check_links()
check_self_contained()
check_sizes()
for e in errors:
    print(e, file=sys.stderr)
print(f"{len(errors)} problem(s)")
sys.exit(1 if errors else 0)
