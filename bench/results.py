"""bench/RESULTS.md: each benchmark owns one "## " section and replaces it with new figures."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(title: str, section: str, path: Path = RESULTS) -> None:
    """Put `section` (starting with "## `title`") in place of that section, or append it."""
    current = path.read_text()
    start = current.find(f"## {title}\n")
    if start == -1:
        path.write_text(current.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n")
        return
    end = current.find("\n## ", start + 1)
    end = len(current) if end == -1 else end + 1
    path.write_text(current[:start] + section.rstrip("\n") + "\n\n" + current[end:])
