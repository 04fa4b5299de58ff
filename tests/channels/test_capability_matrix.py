"""docs/channels/README.md shows what every registered adapter declares, row for row."""

from __future__ import annotations

from pathlib import Path

from hub.channels import matrix

README = Path(__file__).resolve().parents[2] / "docs" / "channels" / "README.md"


def test_the_documented_matrix_is_what_the_adapters_declare() -> None:
    page = README.read_text(encoding="utf-8")
    start = page.index("<!-- capability matrix")
    documented = page[page.index("\n", start) + 1 : page.index("<!-- end of capability matrix -->")].strip()
    assert documented == matrix.render(), (
        "docs/channels/README.md's capability matrix is out of date; paste this:\n" + matrix.render()
    )
