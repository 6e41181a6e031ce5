"""docs/show-reference.md documents every key of show.toml and is up to date."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from installation.show import _ShowFile

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "show-reference.md"


def test_show_reference_is_generated_from_the_current_dataclasses() -> None:
    done = subprocess.run([sys.executable, str(REPO / "tools" / "gen_show_reference.py"),
                           "--check"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_table_and_key_has_a_documented_meaning() -> None:
    text = DOC.read_text(encoding="utf-8")
    for table in dataclasses.fields(_ShowFile):
        assert f"[{table.name}" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows
    assert all(not line.rstrip().endswith("|  |") for line in rows), "a key has no doc"
    assert "| `flash_limit` | boolean | `true` |" in text
