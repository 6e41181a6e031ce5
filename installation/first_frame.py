"""Render one real first frame of a show and say what it cost: ``installation check``'s last test.

A show can load, compile and still never show a frame: an endless loop in a shader, or sizes
that take minutes per frame. ``check`` runs this module in a child process with a time limit
(GL work cannot be interrupted from inside the process), at the show's real output size, with
no streams (the idle picture), and reports the child's figures or that it ran out of time.

``python -m installation.first_frame SHOW`` prints one JSON line:
``{"build_s": ..., "frame_s": ..., "size": [w, h]}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from installation.errors import ShowError, UserError

__all__ = ["FirstFrame", "render_first_frame"]


@dataclass(frozen=True)
class FirstFrame:
    """What the first frame cost (seconds of wall time in the child)."""

    build_s: float  # generator, passes compiled, targets allocated
    frame_s: float  # one step: features, mapping, generator, every pass, read-back
    size: tuple[int, int]


def render_first_frame(show_path: Path, time_limit_s: float) -> FirstFrame:
    """Render the first frame of ``show_path`` in a child process within ``time_limit_s``.

    Raises
    ------
    ShowError
        The frame did not come within the limit (the child is killed), or the child failed;
        the message names the show.
    """
    command = [sys.executable, "-m", "installation.first_frame", str(show_path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=time_limit_s)
    except subprocess.TimeoutExpired:
        raise ShowError(
            f"{show_path}: the first frame did not finish within {time_limit_s:g} s (a shader"
            " that never ends, or sizes too large for this machine?)"
        ) from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {done.returncode}"
        raise ShowError(f"{show_path}: the first frame failed: {last}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return FirstFrame(figures["build_s"], figures["frame_s"], tuple(figures["size"]))


def _main(argv: list[str]) -> int:
    from installation.show import load_show

    try:
        show = load_show(argv[0])
        from installation.pipeline import Pipeline
        from installation.render.gl_context import create_offscreen_context

        began = time.perf_counter()
        ctx = create_offscreen_context()
        try:
            pipeline = Pipeline(show, ctx, size=show.output.size, fps=show.output.fps,
                                device="cpu")
            built = time.perf_counter()
            step = pipeline.step({}, 0.0, 0)
            ctx.finish()
            done = time.perf_counter()
            pipeline.release()
        finally:
            ctx.release()
    except UserError as error:
        print(f"{error}", file=sys.stderr)
        return 2
    assert step.frame.pixels.shape[:2] == (show.output.size[1], show.output.size[0])
    print(json.dumps({"build_s": round(built - began, 4), "frame_s": round(done - built, 4),
                      "size": list(show.output.size)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
