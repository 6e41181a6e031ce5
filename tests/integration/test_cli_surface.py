"""The command line says what it does: every command in --help, a mistyped show answered
before the heavy libraries load, and a list of the LSL streams on the network."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pylsl

from installation.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("replay", "rehearse", "gallery", "check", "check-flashes", "train", "record",
            "streams")


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_help_lists_every_command() -> None:
    text = build_parser().format_help()
    for command in COMMANDS:
        assert f"\n    {command}" in text, command
    assert "replay | check" not in (build_parser().description or "")


def test_importing_the_cli_loads_no_torch_scipy_or_gl() -> None:
    result = python("import sys, installation.cli; "
                    "print(sorted({'torch', 'scipy', 'moderngl', 'pylsl'} & set(sys.modules)))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_missing_show_is_answered_before_torch_is_imported() -> None:
    result = python("import sys\nfrom installation.cli import main\n"
                    "rc = main(['check', 'nothere.toml'])\n"
                    "print(rc, 'torch' in sys.modules, 'moderngl' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "False", "False"]
    assert "nothere.toml" in result.stderr and "Traceback" not in result.stderr


def test_streams_lists_a_stream_on_the_network_with_its_pins() -> None:
    source = f"streams-test-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo("probe-ecg", "ECG", 2, 250.0, pylsl.cf_float32, source)
    outlet = pylsl.StreamOutlet(info)
    try:
        result = subprocess.run([sys.executable, "-m", "installation", "streams", "--wait", "3"],
                                cwd=REPO, capture_output=True, text=True, timeout=60)
    finally:
        del outlet
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["type", "name", "source_id", "host", "rate", "channels",
                                "format"]
    ours = [line.split() for line in lines if source in line]
    assert len(ours) == 1
    row = ours[0]
    assert row[:3] == ["ECG", "probe-ecg", source] and row[-4:] == ["250", "Hz", "2", "float32"]
