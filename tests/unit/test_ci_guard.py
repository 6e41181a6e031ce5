"""CI cannot skip the GL tests silently: with ``CI`` or ``INSTALLATION_REQUIRE_GL=1`` set, a
broken EGL fails them (elsewhere they skip, so a machine without a GPU driver still runs
the rest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GL_TEST = "tests/gl/test_shader_source.py::test_included_compiles"


def run_gl_test(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "INSTALLATION_REQUIRE_GL")}
    # Point libglvnd at no EGL vendor at all: EGL is "broken" for this process only.
    clean["__EGL_VENDOR_LIBRARY_FILENAMES"] = "/nonexistent/egl_vendor.json"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           GL_TEST], cwd=REPO, env={**clean, **env}, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("env", [{"CI": "true"}, {"INSTALLATION_REQUIRE_GL": "1"}])
def test_a_broken_egl_fails_the_gl_tests_in_ci(env: dict[str, str]) -> None:
    result = run_gl_test(**env)
    assert result.returncode != 0
    assert "OffscreenContextError" in result.stdout


def test_a_broken_egl_skips_the_gl_tests_elsewhere() -> None:
    result = run_gl_test()
    assert result.returncode == 0 and "1 skipped" in result.stdout


def test_ci_script_requires_gl_before_running_the_tests() -> None:
    script = (REPO / ".ci" / "run").read_text().splitlines()
    guard = script.index("export INSTALLATION_REQUIRE_GL=1")
    assert guard < next(i for i, line in enumerate(script) if "pytest" in line)
