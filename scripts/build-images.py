#!/usr/bin/env python3
"""Build pocketkube's offline test images as OCI archives: busybox and the pause image.

busybox comes from Debian's busybox-static (/bin/busybox, one symlink per applet in /bin);
pause is a tiny static C program compiled with gcc (a busybox-based stand-in without gcc).
The archives are reproducible and cached under a name derived from their inputs, so a second
run prints the same paths without rebuilding. Load one into a cluster with
`pocketkube image load PATH`; the node agent loads both itself.

Usage: scripts/build-images.py [--out DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pocketkube.kubelet.oci.build import default_cache_dir, ensure_builtin_images


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help=f"output folder (default {default_cache_dir()})")
    parser.add_argument("--json", action="store_true", help="print {image: path} as JSON")
    args = parser.parse_args()
    begin = time.monotonic()
    paths = ensure_builtin_images(args.out)
    if args.json:
        print(json.dumps({name: str(path) for name, path in paths.items()}))
    else:
        for name, path in paths.items():
            print(f"{name}\t{path}\t{path.stat().st_size} bytes")
        print(f"done in {time.monotonic() - begin:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
