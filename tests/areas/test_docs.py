"""docs/areas/<area>.md: generated duty tables kept in sync with the rule files, followed by the
hand-written "Interpretations and gaps" (`gateway rules docs`)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app
from gateway.rules.docs import BEGIN, END, GAPS_HEADING, duties, render, write_docs
from gateway.rules.loader import load_rulebook
from gateway.settings import REPO_ROOT
from tests.rulesupport import mappings

DOCS = REPO_ROOT / "docs" / "areas"
SHIPPED = load_rulebook(REPO_ROOT / "mappings")


def test_every_area_document_matches_its_rule_file() -> None:
    stale = []
    for f in SHIPPED.files:
        path = DOCS / f"{f.area}.md"
        assert path.exists(), f"{path} is missing: run `gateway rules docs`"
        text = path.read_text(encoding="utf-8")
        if render(f, text) != text:
            stale.append(path.name)
    assert not stale, f"out of date (run `gateway rules docs`): {stale}"


def test_no_document_for_an_area_that_has_no_rule_file() -> None:
    areas = {f.area for f in SHIPPED.files}
    orphans = sorted(p.stem for p in DOCS.glob("*.md") if p.stem not in areas and p.stem != "README")
    assert not orphans, f"docs/areas has documents without a rule file: {orphans}"


def test_every_area_document_has_its_interpretations_and_gaps_written() -> None:
    for f in SHIPPED.files:
        text = (DOCS / f"{f.area}.md").read_text(encoding="utf-8")
        tail = text.split(END, 1)[1]
        assert GAPS_HEADING in tail, f"{f.area}.md: no '{GAPS_HEADING}' section after the table"
        assert "_To be written" not in tail, f"{f.area}.md: the interpretations are still the stub"
        assert len(tail.split(GAPS_HEADING, 1)[1].strip()) > 200, f"{f.area}.md: interpretations too thin"


def test_every_rule_and_cite_is_in_its_table() -> None:
    for area, rows in duties(SHIPPED).items():
        text = (DOCS / f"{area}.md").read_text(encoding="utf-8").split(END, 1)[0]
        for rule in next(f for f in SHIPPED.files if f.area == area).rules:
            assert f"`{rule.id}`" in text, f"{area}.md lacks {rule.id}"
        for d in rows:
            assert d.cite.replace("|", "\\|") in text


def test_a_changed_rule_changes_the_table_and_keeps_the_hand_written_part(tmp_path: Path) -> None:
    root = mappings(tmp_path)
    out = tmp_path / "docs"
    assert [p.name for p in write_docs(load_rulebook(root), out)] == ["national.md"]
    doc = out / "national.md"
    doc.write_text(
        doc.read_text(encoding="utf-8").split(GAPS_HEADING)[0] + GAPS_HEADING + "\n\nOur reading.\n",
        encoding="utf-8",
    )
    assert write_docs(load_rulebook(root), out, check=True) == []  # in sync: nothing to write

    national = root / "areas" / "national.yaml"
    text = national.read_text(encoding="utf-8")
    national.write_text(text.replace("due: 72h", "due: 48h"), encoding="utf-8")
    assert write_docs(load_rulebook(root), out, check=True) == [doc]
    write_docs(load_rulebook(root), out)
    text = doc.read_text(encoding="utf-8")
    assert "within 48 hours after found_at" in text and "within 72 hours" not in text
    assert text.startswith(BEGIN) and text.endswith(GAPS_HEADING + "\n\nOur reading.\n")


def test_the_command_checks_and_writes(tmp_path: Path) -> None:
    root = mappings(tmp_path)
    out = tmp_path / "areas-docs"
    runner = CliRunner()
    check = ["rules", "docs", "--check", "--mappings", str(root), "--out", str(out)]
    stale = runner.invoke(app, check)
    assert stale.exit_code == 1 and "out of date" in stale.output
    wrote = runner.invoke(app, ["rules", "docs", "--mappings", str(root), "--out", str(out)])
    assert wrote.exit_code == 0 and (out / "national.md").exists()
    assert runner.invoke(app, check).exit_code == 0

