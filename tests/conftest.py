"""Shared fixtures: where the repo, its shows and the shared real recordings live."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

# As installation/cli.py does: torch's OpenMP threads otherwise spin-wait between ops, and on
# two cores shared with the GL rasteriser that made training steps and tests several times
# slower. It must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"
XVFB_SCREEN = (480, 270)  # small: fullscreen tests read the whole screen back


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real recordings beside the repo (CI has them; a bare clone may not)."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing at {SHARED_DATA}")
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A private Xvfb for the whole session; yields its DISPLAY (``":N"``).

    Skipped where Xvfb is missing, except in CI (``tools/setup.sh test`` installs it).
    """
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is required in CI (apt-get install -y xvfb)")
        pytest.skip("Xvfb is not installed (apt-get install -y xvfb)")
    read, write = os.pipe()
    # -displayfd: Xvfb picks a free display number itself and writes it once it is ready.
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{XVFB_SCREEN[0]}x{XVFB_SCREEN[1]}x24",
         "+extension", "GLX", "-nolisten", "tcp"],
        pass_fds=(write,), stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def on_xvfb(xvfb_display: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DISPLAY set to the session's Xvfb, for windows opened in this process."""
    monkeypatch.setenv("DISPLAY", xvfb_display)
    return xvfb_display
