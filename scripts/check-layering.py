#!/usr/bin/env python3
"""Checks the module's layering rules (Documentation/filesystems/rerofs.rst,
"Implementation"): `unsafe` code only in rust/vfs/ and the binding files; every
`unsafe` block and `unsafe impl` under its own `// SAFETY:` comment (not "see
above"); nothing in
rust/vfs/ naming the crate's other modules (only `crate::helpers`, the C
helpers' declarations). Prints each violation as FILE:LINE: WHAT; exits 1 if any.

Usage: check-layering.py [RUST_DIR]   (default: rust/ next to this script's dir)
"""
import os
import re
import sys

# Files outside rust/vfs/ that may hold `unsafe` code: bindings that are not VFS.
BINDING_FILES = {"crypto.rs", "pkcs7.rs", "params.rs", "ratelimit.rs"}
UNSAFE_USE = re.compile(r"\bunsafe\s*(\{|impl\b)")


def code_part(line):
    """The line without a trailing `//` comment (string contents are kept)."""
    out, in_str, i = [], False, 0
    while i < len(line):
        c = line[i]
        if c == '"' and (i == 0 or line[i - 1] != "\\"):
            in_str = not in_str
        if not in_str and line.startswith("//", i):
            break
        out.append(c)
        i += 1
    return "".join(out)


def has_safety_comment(lines, idx):
    """True when the `unsafe` on line idx is covered by a `// SAFETY:` comment:
    the nearest comment block above it (within the statement) says SAFETY:."""
    j = idx - 1
    steps = 0
    while j >= 0 and steps < 12:
        s = lines[j].strip()
        if s.startswith("//"):
            while j >= 0 and lines[j].strip().startswith("//"):
                if lines[j].strip().startswith("// SAFETY:"):
                    return True
                j -= 1
            return False
        if s == "" or s.endswith(";") or s.endswith("}") and not s.endswith("{"):
            # a blank line or the end of the previous statement: no comment
            return False
        j -= 1
        steps += 1
    return False


def check(rust_dir):
    problems = []
    for root, _, files in os.walk(rust_dir):
        if os.path.join(rust_dir, "format") in root:
            continue
        for name in sorted(files):
            if not name.endswith(".rs") or name.endswith("_generated.rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, rust_dir)
            in_vfs = rel.startswith("vfs" + os.sep)
            may_be_unsafe = in_vfs or name in BINDING_FILES
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            for i, line in enumerate(lines):
                code = code_part(line)
                if re.search(r"\bunsafe\b", code):
                    if not may_be_unsafe:
                        problems.append(f"{rel}:{i + 1}: unsafe code outside rust/vfs/ and the binding files")
                    elif UNSAFE_USE.search(code) and not has_safety_comment(lines, i):
                        problems.append(f"{rel}:{i + 1}: unsafe without its own // SAFETY: comment")
                if re.search(r"SAFETY:.*see above", line, re.I):
                    problems.append(f"{rel}:{i + 1}: a SAFETY comment that points elsewhere (\"see above\")")
                if in_vfs:
                    for m in re.finditer(r"\bcrate::(\w+)", code):
                        if m.group(1) != "helpers":
                            problems.append(f"{rel}:{i + 1}: the VFS layer names crate::{m.group(1)}")
    return problems


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    rust_dir = argv[0] if argv else os.path.join(here, "..", "rust")
    problems = check(os.path.normpath(rust_dir))
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
