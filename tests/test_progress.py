"""Progress of long CLI work: plain lines for logs, a bar for terminals."""

from __future__ import annotations

import io

from hub.progress import Progress, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_report_about_every_tenth_and_the_end() -> None:
    out = io.StringIO()
    with progress("demo", 200, unit="conversations", stream=out) as bar:
        for _ in range(200):
            bar.advance()
    lines = out.getvalue().splitlines()
    assert lines[0] == "demo: 20/200 conversations"
    assert lines[-1] == "demo: 200/200 conversations"
    assert len(lines) == 10


def test_an_interrupted_run_still_reports_where_it_stopped() -> None:
    out = io.StringIO()
    with progress("import", 100, unit="rows", stream=out) as bar:
        bar.advance(7)
    assert out.getvalue().splitlines() == ["import: 7/100 rows"]


def test_a_terminal_gets_a_bar_instead_of_lines() -> None:
    out = Terminal()
    with progress("demo", 3, unit="conversations", stream=out) as bar:
        for _ in range(3):
            bar.advance()
    text = out.getvalue()
    assert "\r" in text and "3/3" in text
    assert "demo: 3/3 conversations\n" not in text


def test_the_choice_can_be_forced() -> None:
    out = Terminal()
    with Progress("backfill", 2, stream=out, bar=False) as bar:
        bar.advance(2)
    assert out.getvalue() == "backfill: 2/2 items\n"
