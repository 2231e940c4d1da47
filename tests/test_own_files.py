"""write_own_files: infoflow replaces only what it wrote; a user's file stays and the new one goes beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infoflow.own_files import LEDGER_NAME, read_ledger, write_own_files


def test_first_write_uses_the_asked_names_and_records_them(tmp_path: Path) -> None:
    written = write_own_files(tmp_path / "out", {"report.md": b"a", "report.html": b"<p>a</p>"}, notify=pytest.fail)
    assert written == {"report.md": tmp_path / "out" / "report.md", "report.html": tmp_path / "out" / "report.html"}
    assert set(read_ledger(tmp_path / "out")) == {"report.md", "report.html"}


def test_own_file_is_replaced_in_place(tmp_path: Path) -> None:
    write_own_files(tmp_path, {"report.md": b"first"}, notify=pytest.fail)
    written = write_own_files(tmp_path, {"report.md": b"second"}, notify=pytest.fail)
    assert written["report.md"].read_bytes() == b"second" and written["report.md"].name == "report.md"


def test_a_users_file_stays_and_the_pair_goes_beside_it(tmp_path: Path) -> None:
    (tmp_path / "report.md").write_text("my report")
    said: list[str] = []
    written = write_own_files(tmp_path, {"report.md": b"new", "report.html": b"<p>new</p>"}, notify=said.append)
    assert (tmp_path / "report.md").read_text() == "my report"
    assert written == {"report.md": tmp_path / "report-2.md", "report.html": tmp_path / "report-2.html"}
    assert len(said) == 1 and "report.md" in said[0] and "report-2.md" in said[0]
    # A rerun rewrites its own report-2.* and still leaves the user's file alone.
    again = write_own_files(tmp_path, {"report.md": b"newer", "report.html": b"x"}, notify=said.append)
    assert again["report.md"] == tmp_path / "report-2.md" and again["report.md"].read_bytes() == b"newer"
    assert (tmp_path / "report.md").read_text() == "my report"


def test_a_file_edited_after_infoflow_wrote_it_is_the_users(tmp_path: Path) -> None:
    write_own_files(tmp_path, {"report.md": b"ours"}, notify=pytest.fail)
    (tmp_path / "report.md").write_text("ours, with my notes")
    written = write_own_files(tmp_path, {"report.md": b"ours again"}, notify=lambda text: None)
    assert (tmp_path / "report.md").read_text() == "ours, with my notes"
    assert written["report.md"].name == "report-2.md"


def test_a_folder_or_link_in_the_way_is_never_ours(tmp_path: Path) -> None:
    (tmp_path / "report.md").mkdir()
    (tmp_path / "report-2.md").symlink_to(tmp_path / "elsewhere.md")
    written = write_own_files(tmp_path, {"report.md": b"x"}, notify=lambda text: None)
    assert written["report.md"].name == "report-3.md"
    assert (tmp_path / "report.md").is_dir() and not (tmp_path / "elsewhere.md").exists()


def test_a_foreign_ledger_is_refused_not_trusted(tmp_path: Path) -> None:
    (tmp_path / LEDGER_NAME).write_text(json.dumps({"files": {"report.md": "0" * 64}}))
    with pytest.raises(ValueError, match=LEDGER_NAME):
        write_own_files(tmp_path, {"report.md": b"x"})
