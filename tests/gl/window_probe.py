"""Run the default piece in a ShowWindow and report what the screen showed (as JSON).

Run in its own process by test_window.py: a process drives either an EGL context (replay,
the GL test session) or a window's GLX context, and Mesa's dispatch does not switch cleanly
from one to the other in a process where an EGL context is current.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from installation.errors import UserError
from installation.pipeline import Pipeline
from installation.render.window import ShowWindow, WindowSettings
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    size = (320, 180)
    if sys.argv[1:] == ["bad-screen"]:
        try:
            ShowWindow(WindowSettings(screen=3))
        except UserError as error:
            print(json.dumps({"error": str(error)}))
        return
    show = load_show(REPO / "show.toml")
    with ShowWindow(WindowSettings(size=size, screen=0, fullscreen=True, vsync=True)) as window:
        pipeline = Pipeline(show, window.ctx, size, fps=30.0, device="cpu")
        try:
            for index in range(10):
                step = pipeline.step({}, t=index / 30.0, index=index)
                window.present(step.frame)
            shown = window.read_screen()
        finally:
            pipeline.release()
        mouse_visible = window.window._mouse_visible  # pyglet keeps no public getter
        renderer = window.ctx.info["GL_RENDERER"]
    frame = step.frame.pixels
    print(json.dumps({
        "framebuffer": [shown.shape[1], shown.shape[0]],
        "shown_mean": float(shown.mean()),
        "frame_mean": float(frame.mean()),
        # The top-left quarter of each, compared on a common 80x45 grid.
        "shown_quarter": float(shown[:135:3, :240:3].mean()),
        "frame_quarter": float(frame[:90:2, :160:2].mean()),
        "mouse_visible": bool(mouse_visible),
        "renderer": renderer,
    }))


if __name__ == "__main__":
    main()
