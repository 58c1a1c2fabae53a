#!/usr/bin/env python3
"""The README's C++ is real code: every ```cpp block that follows a line
`<!-- from examples/NAME.cpp, REGION -->` must equal the lines of that example between its
`// README REGION {` and `// README REGION }` markers (each run of lines de-indented, runs joined).
The examples themselves are built and run by CI. Usage: check_readme.py SOURCE_DIR"""
import pathlib, re, sys, textwrap

root = pathlib.Path(sys.argv[1])
readme = (root / "README.md").read_text()
blocks = re.findall(r"<!-- from (examples/[\w.]+), ([\w-]+) -->\n```cpp\n(.*?)```", readme, re.S)
if not blocks:
    sys.exit("README.md: no ```cpp block is tied to an example (<!-- from examples/X.cpp, REGION -->)")
failed = 0
for path, region, shown in blocks:
    source = (root / path).read_text()
    runs = re.findall(r"// README " + re.escape(region) + r" \{\n(.*?)^[ \t]*// README " + re.escape(region) + r" \}",
                      source, re.S | re.M)
    if not runs:
        print(f"{path}: no region '{region}'"); failed += 1; continue
    expected = "".join(textwrap.dedent(r) for r in runs)
    if expected.strip() != shown.strip():
        print(f"README.md's block from {path}, {region} differs from the example:")
        import difflib
        sys.stdout.writelines(difflib.unified_diff(shown.strip().splitlines(True), expected.strip().splitlines(True),
                                                   "README.md", path))
        print(); failed += 1
    else:
        print(f"ok: {path}, {region} ({len(expected.splitlines())} lines)")
sys.exit(1 if failed else 0)
