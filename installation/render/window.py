"""The projector: a pyglet window that shows the pipeline's frames.

The window owns the GL context (``moderngl.create_context()`` on pyglet's context), so the
same :class:`~installation.pipeline.Pipeline` renders into its offscreen targets as it does
under EGL. The frame shown is the one the pipeline returned, after the flash limiter: the
picture on the projector is exactly the picture the safety stage measured.

A process should use either a window or the offscreen EGL context: while an EGL context is
current on the thread, libglvnd routes GL calls to it and the window's GLX context cannot be
made current. :class:`ShowWindow` therefore releases (does not destroy) the thread's current
EGL context before opening the window.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

import moderngl
import numpy as np

from installation.errors import UserError
from installation.messages import Frame

_BLIT_VERTEX = """#version 330
uniform vec2 u_scale;
out vec2 v_uv;
void main() {
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    v_uv = p;
    gl_Position = vec4((p * 2.0 - 1.0) * u_scale, 0.0, 1.0);
}
"""
_BLIT_FRAGMENT = """#version 330
uniform sampler2D u_image;
in vec2 v_uv;
out vec4 f_color;
void main() { f_color = vec4(texture(u_image, vec2(v_uv.x, 1.0 - v_uv.y)).rgb, 1.0); }
"""


def _release_current_egl_context() -> None:
    # Hand-written ctypes: no library exposes "make no EGL context current"; glcontext only
    # does it on its own context objects, which this module never sees.
    name = ctypes.util.find_library("EGL")
    if name is None:
        return
    egl = ctypes.CDLL(name)
    egl.eglGetCurrentDisplay.restype = ctypes.c_void_p
    egl.eglMakeCurrent.argtypes = [ctypes.c_void_p] * 4
    display = egl.eglGetCurrentDisplay()
    if display:
        egl.eglMakeCurrent(display, None, None, None)


class WindowError(UserError):
    """The window cannot be opened (no display, no such screen, no OpenGL 3.3)."""


@dataclass(frozen=True)
class WindowSettings:
    """Where and how the piece is shown.

    Parameters
    ----------
    size
        Frame ``(width, height)``; also the window size when not fullscreen.
    screen
        Index of the screen (0: the primary), as pyglet lists them.
    fullscreen
        Cover that screen; the frame is scaled to fit, letterboxed.
    vsync
        Wait for the display's refresh when presenting (no tearing).
    """

    size: tuple[int, int] = (640, 360)
    screen: int = 0
    fullscreen: bool = True
    vsync: bool = True


class ShowWindow:
    """A pyglet window with a moderngl context; :meth:`present` shows one frame.

    Use it on the main thread (GL and the window system both want that). Pass :attr:`ctx`
    to the :class:`~installation.pipeline.Pipeline` so both share one context.
    """

    def __init__(self, settings: WindowSettings, title: str = "installation") -> None:
        _release_current_egl_context()
        import pyglet  # imported late: it needs a display as soon as it opens one

        self.settings = settings
        try:
            display = pyglet.display.get_display()
            screens = display.get_screens()
        except Exception as error:  # pyglet raises several unrelated types without a display
            raise WindowError(f"cannot open a display ({error}); is DISPLAY set?") from error
        if not 0 <= settings.screen < len(screens):
            raise WindowError(
                f"output.screen {settings.screen}: there are {len(screens)} screen(s)"
                f" (0..{len(screens) - 1})")
        screen = screens[settings.screen]
        config = pyglet.gl.Config(major_version=3, minor_version=3, forward_compatible=True,
                                  double_buffer=True, depth_size=0)
        width, height = settings.size
        try:
            self.window = pyglet.window.Window(
                width=None if settings.fullscreen else width,
                height=None if settings.fullscreen else height,
                caption=title, fullscreen=settings.fullscreen, screen=screen,
                vsync=settings.vsync, config=config, resizable=False)
        except pyglet.window.NoSuchConfigException as error:
            raise WindowError(f"the display offers no OpenGL 3.3 core context ({error})"
                              ) from error
        self.window.set_mouse_visible(False)
        self.window.switch_to()
        self.ctx = moderngl.create_context(require=330)
        self._program = self.ctx.program(vertex_shader=_BLIT_VERTEX,
                                         fragment_shader=_BLIT_FRAGMENT)
        self._vao = self.ctx.vertex_array(self._program, [])
        self._texture = self.ctx.texture((width, height), 3, dtype="f1")
        self._texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.closed = False
        self.window.on_close = self._on_close

    def _on_close(self) -> None:
        self.closed = True

    @property
    def framebuffer_size(self) -> tuple[int, int]:
        return tuple(self.window.get_framebuffer_size())  # type: ignore[return-value]

    def present(self, frame: Frame) -> None:
        """Draw ``frame`` letterboxed into the window and swap buffers (waits for vsync)."""
        self.window.switch_to()
        self.window.dispatch_events()
        h, w = frame.pixels.shape[:2]
        if (w, h) != self._texture.size:
            self._texture.release()
            self._texture = self.ctx.texture((w, h), 3, dtype="f1")
        self._texture.write(np.ascontiguousarray(frame.pixels))
        fb_w, fb_h = self.framebuffer_size
        screen = self.ctx.detect_framebuffer(0)
        screen.use()
        self.ctx.viewport = (0, 0, fb_w, fb_h)
        self.ctx.clear(0.0, 0.0, 0.0)
        # Keep the frame's aspect ratio: scale the quad down along the longer axis.
        frame_aspect, fb_aspect = w / h, fb_w / fb_h
        scale = ((frame_aspect / fb_aspect, 1.0) if frame_aspect < fb_aspect
                 else (1.0, fb_aspect / frame_aspect))
        self._program["u_scale"].value = scale
        self._texture.use(location=0)
        self._vao.render(moderngl.TRIANGLES, vertices=3)
        _ = self.ctx.error  # see close(): keep pyglet's error check clean
        self.window.flip()

    def read_screen(self) -> np.ndarray:
        """What was drawn, as ``(h, w, 3)`` uint8, top row first (read before the next swap
        is undefined on some drivers; used by tests right after :meth:`present`)."""
        fb_w, fb_h = self.framebuffer_size
        data = self.ctx.detect_framebuffer(0).read(viewport=(0, 0, fb_w, fb_h), components=3)
        return np.frombuffer(data, dtype=np.uint8).reshape(fb_h, fb_w, 3)[::-1]

    def close(self) -> None:
        if self.window is not None:
            self._texture.release()
            self._vao.release()
            self._program.release()
            # pyglet checks glGetError after its own calls; clear what moderngl left pending
            # (moderngl reports errors through exceptions, not through this flag).
            _ = self.ctx.error
            self.window.close()
            self.closed = True

    def __enter__(self) -> ShowWindow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
