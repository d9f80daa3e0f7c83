#!/usr/bin/env python3
"""layering.py — checks that every file under src/ includes only headers of
its own subsystem or of the layers below it (docs/architecture in README's
layout table): arrows point down only. Prints each violation and exits 1.

Usage: layering.py SRC_DIR
"""
import os
import re
import sys

# Each subsystem and the subsystems it may include (besides itself). Lower layers first.
ALLOWED = {
    "util": set(),
    "cpu": {"util"},
    "block": {"util"},
    "net": {"util"},
    "http": {"util"},
    "fs": set(),
    "virtio": {"util", "block", "net", "fs"},
    "machine": {"util", "cpu", "block", "net", "virtio", "fs"},
    "vm": {"util", "http", "cpu", "block", "net", "virtio", "machine", "fs"},
    "container": {"util", "net"},
    "cluster": {"util"},
    "agent": set(),  # also built alone into the guest's static agent: plain libc only
    "daemon": {"util", "http", "block", "net", "machine", "vm", "container", "cluster", "agent"},
    "cli": {"util", "http", "cpu", "block", "net", "virtio", "machine", "vm", "container", "agent", "fs"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def main(src):
    violations, files = [], 0
    for root, _, names in os.walk(src):
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(root, name)
            layer = os.path.relpath(path, src).split(os.sep)[0]
            if layer not in ALLOWED:
                violations.append(f"{path}: folder '{layer}' is not a known subsystem (add it to ALLOWED)")
                continue
            files += 1
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m or "/" not in m.group(1):
                        continue  # a header beside the file, or a generated one
                    target = m.group(1).split("/")[0]
                    if target != layer and target not in ALLOWED[layer]:
                        violations.append(f"{path}:{lineno}: {layer}/ includes {m.group(1)} (a higher layer)")
    for v in violations:
        print(v)
    print(f"{files} files checked, {len(violations)} upward includes")
    return 1 if violations or files == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
