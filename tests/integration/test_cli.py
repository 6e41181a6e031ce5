"""The ``installation`` command as a user meets it: real subprocesses, real files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"
DATA = REPO / "tests" / "data"


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "installation", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def assert_user_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def copy_show(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    (tmp_path / "shaders").mkdir()
    for shader in (REPO / "shaders").iterdir():
        (tmp_path / "shaders" / shader.name).write_text(shader.read_text())
    text = (REPO / "show.toml").read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / "show.toml"
    path.write_text(text)
    return path


def test_replay_command_renders_the_demo_into_a_video(tmp_path: Path) -> None:
    out = tmp_path / "demo.mp4"
    result = run("replay", DEMO, "-o", out, "--size", "128x72", "--fps", "12",
                 "--duration", "2", "-q")
    assert result.returncode == 0, result.stderr
    assert "24 frames" in result.stdout
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 24 and frames[0].shape == (72, 128, 3)
    assert np.mean(frames[-1]) > 10  # a picture, not black


def test_replay_writes_what_drove_the_picture_beside_the_video(tmp_path: Path) -> None:
    out = tmp_path / "demo.mp4"
    result = run("replay", DEMO, "-o", out, "--size", "64x36", "--fps", "10",
                 "--duration", "4", "-q")
    assert result.returncode == 0, result.stderr
    with (tmp_path / "demo.features.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40
    assert {"t", "ecg.heart_rate", "eeg.alpha_rel", "control.pulse", "control.calm"} <= set(rows[0])
    assert max(float(r["control.pulse"]) for r in rows) > 0.4  # beats after the warm-up
    summary = json.loads((tmp_path / "demo.summary.json").read_text())
    assert summary["frames"] == 40 and summary["duration_s"] == 4.0
    # Both streams start warming up and become ok within the 4 s.
    changes = [(c["stream"], c["status"]) for c in summary["status_changes"]]
    assert ("ecg", "ok") in changes and ("eeg", "ok") in changes
    assert (tmp_path / "demo.drivers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_report_flag_writes_only_the_video(tmp_path: Path) -> None:
    out = tmp_path / "demo.mp4"
    result = run("replay", DEMO, "-o", out, "--size", "64x36", "--fps", "10",
                 "--duration", "1", "-q", "--no-report")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.mp4"]


def test_missing_recording_is_one_line_naming_the_file(tmp_path: Path) -> None:
    result = run("replay", tmp_path / "nowhere.xdf", "-o", tmp_path / "x.mp4", "-q")
    assert_user_error(result, "nowhere.xdf")


def test_garbage_recording_is_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.xdf"
    bad.write_bytes(b"this is not an xdf file at all" * 10)
    assert_user_error(run("replay", bad, "-o", tmp_path / "x.mp4", "-q"), "garbage.xdf")


def test_recording_without_the_needed_stream_names_stream_and_show_key(tmp_path: Path) -> None:
    # minimal.xdf holds an EEG and a marker stream, no ECG.
    result = run("replay", DATA / "minimal.xdf", "-o", tmp_path / "x.mp4", "-q")
    assert_user_error(result, "minimal.xdf", "ECG", "streams.ecg")


def test_invalid_show_key_names_file_line_and_key(tmp_path: Path) -> None:
    show = copy_show(tmp_path, ("fps = 30", "fps = 30\nframerate = 60"))
    result = run("replay", DEMO, "--show", show, "-o", tmp_path / "x.mp4", "-q")
    assert_user_error(result, "show.toml:", "output.framerate", "unknown key")


def test_out_of_range_show_value_is_refused(tmp_path: Path) -> None:
    show = copy_show(tmp_path, ("rate = 15", "rate = -1"))
    result = run("replay", DEMO, "--show", show, "-o", tmp_path / "x.mp4", "-q")
    assert_user_error(result, "generator.rate", "must be >= 0.1")


def test_shader_that_fails_to_compile_names_its_file_and_line(tmp_path: Path) -> None:
    show = copy_show(tmp_path)
    shader = tmp_path / "shaders" / "pulse.frag"
    lines = shader.read_text().splitlines()
    main_line = next(i for i, line in enumerate(lines) if line.startswith("void main"))
    lines.insert(main_line + 2, "    float broken = ;")
    shader.write_text("\n".join(lines) + "\n")
    result = run("replay", DEMO, "--show", show, "-o", tmp_path / "x.mp4", "-q")
    assert_user_error(result, f"pulse.frag:{main_line + 3}")
    assert not (tmp_path / "x.mp4").exists() or (tmp_path / "x.mp4").stat().st_size == 0


def test_check_command_validates_the_default_show() -> None:
    result = run("check", "show.toml")
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
    assert "first frame at 640x360" in result.stdout and "MB" in result.stdout


def test_bad_size_argument_is_one_line(tmp_path: Path) -> None:
    result = run("replay", DEMO, "-o", tmp_path / "x.mp4", "--size", "big")
    assert_user_error(result, "size")


def test_recording_with_nan_and_flat_segments_still_renders(tmp_path: Path) -> None:
    # Real ECG and EEG from the demo, with an electrode-off flat line and a NaN burst in each.
    from installation.inputs.recording import load_recording

    rec = load_recording(DEMO)
    ecg, eeg = rec.find_stream("ECG"), rec.find_stream("EEG")
    t = np.arange(0.0, 8.0, 1 / 250)
    ecg_v = np.interp(t, ecg.timestamps, ecg.data[:, 0])
    eeg_v = np.interp(t, eeg.timestamps, eeg.data[:, 0])
    ecg_v[(t > 2.0) & (t < 3.0)] = 0.0
    ecg_v[(t > 4.0) & (t < 4.5)] = np.nan
    eeg_v[(t > 3.0) & (t < 5.0)] = np.nan
    csv = tmp_path / "damaged.csv"
    rows = "\n".join(
        f"{a:.4f},{'' if np.isnan(b) else f'{b:.5f}'},{'nan' if np.isnan(c) else f'{c:.3f}'}"
        for a, b, c in zip(t, ecg_v, eeg_v, strict=True)
    )
    csv.write_text("time_s,ECG,EEG\n" + rows + "\n")
    out = tmp_path / "damaged.mp4"
    result = run("replay", csv, "-o", out, "--size", "96x54", "--fps", "15", "-q")
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 120
