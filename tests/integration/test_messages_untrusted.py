"""Bad recordings and arguments get one line naming the file or stream (issue 17, messages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from installation.cli import main
from installation.messages import Chunk, StreamInfo

REPO = Path(__file__).resolve().parents[2]


def _one_line_error(capsys, *argv: str | Path) -> str:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(("name", "text"), [
    ("header_only.csv", "time,ECG\n"),
    ("typed_header_only.csv", "# type: ECG\n# srate: 250\ntime,ECG\n"),
    ("one_row.csv", "time,ECG\n0.0,0.5\n"),
])
def test_near_empty_csvs_are_one_line_naming_the_file_without_start(
    tmp_path: Path, capsys, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    line = _one_line_error(capsys, "replay", path, "-o", tmp_path / "x.mp4", "-q")
    assert str(path) in line and "--start" not in line, line
    assert "nothing to replay" in line


def test_start_past_the_end_is_only_blamed_on_start_when_given(tmp_path: Path, capsys) -> None:
    path = tmp_path / "short.csv"
    path.write_text("time,ECG\n" + "".join(f"{i / 250:.3f},0.1\n" for i in range(500)))
    line = _one_line_error(capsys, "replay", path, "-o", tmp_path / "x.mp4", "-q",
                           "--start", "30")
    assert "--start 30 s is past the end" in line and str(path) in line


def test_channel_count_zero_is_blamed_on_the_recording_not_the_show(
    tmp_path: Path, capsys
) -> None:
    raw = (REPO / "tests" / "data" / "minimal.xdf").read_bytes()
    damaged = raw.replace(b"<channel_count>3</channel_count>", b"<channel_count>0</channel_count>",
                          1)
    assert damaged != raw
    path = tmp_path / "cc0.xdf"
    path.write_bytes(damaged)
    (tmp_path / "shaders").mkdir()
    (tmp_path / "shaders" / "a.frag").write_text((REPO / "shaders" / "pulse.frag").read_text())
    show = tmp_path / "show.toml"
    show.write_text('[streams.eeg]\ntype = "EEG"\n\n[[passes]]\nshader = "shaders/a.frag"\n')
    line = _one_line_error(capsys, "replay", path, "--show", show, "-o", tmp_path / "x.mp4",
                           "-q")
    assert line.startswith(f"installation: error: {path}: stream 'SendDataC' declares "
                           "channel_count = 0"), line
    assert "streams.eeg" in line and "channel:" not in line


def test_record_refuses_a_name_with_both_quote_characters(tmp_path: Path, capsys) -> None:
    line = _one_line_error(capsys, "record", "-o", tmp_path / "r.xdf", "--type", "ECG",
                           "--name", "Bob's \"strap\"", "--wait", "0.1")
    assert "--name" in line and "both quote characters" in line


def test_a_malformed_chunk_names_its_stream() -> None:
    info = StreamInfo("polar-h10", "ECG", 1, 130.0)
    with pytest.raises(ValueError, match="chunk of stream 'polar-h10' \\(ECG\\)"):
        Chunk(info, np.arange(4.0), np.zeros((3, 1)), 1.0)
