"""Summarize a py-spy raw (collapsed stacks) file: where the hub's CPU time goes.

    .venv/bin/python bench/profile_summary.py PROFILE.txt [--top 25] [--match hub/]

Prints the share of samples per thread root, the functions with the most inclusive
time (on the stack at all) and the most self time (on top of the stack).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME_LINE = re.compile(r":\d+\)$")


def _name(frame: str) -> str:
    """``func (path:line)`` without the line number, so one function is one row."""
    return _FRAME_LINE.sub(")", frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", default="", help="only list functions whose name contains this")
    parser.add_argument("--within", default="", help="only count stacks that pass through this function")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    roots: Counter[str] = Counter()
    total = 0
    for raw in Path(args.profile).read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LINE.match(raw)
        if not match:
            continue
        frames = [_name(f) for f in match.group(1).split(";")]
        if args.within and not any(args.within in f for f in frames):
            continue
        count = int(match.group(2))
        total += count
        roots[frames[0] if frames else "?"] += count
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    print(f"{total} samples")
    print("\nthreads (stack roots):")
    for name, count in roots.most_common(5):
        print(f"  {count / total:6.1%}  {name}")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\ntop {title}:")
        shown = 0
        for name, count in counter.most_common():
            if args.match and args.match not in name:
                continue
            print(f"  {count / total:6.1%}  {name}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
