"""The offscreen GL context used for headless replay and for tests."""

from __future__ import annotations

import moderngl

from installation.errors import UserError

# GLSL 3.30 is what the built-in vertex shader and the shaders in shaders/ are written for.
_REQUIRED_GL = 330


class OffscreenContextError(UserError, RuntimeError):
    """No offscreen (EGL) OpenGL context could be created on this machine."""


def create_offscreen_context() -> moderngl.Context:
    """Create a standalone, windowless OpenGL 3.3+ context through EGL.

    Works without a display or a GPU (Mesa's llvmpipe renders on the CPU). Use it on the
    thread that will do all the GL work: GL stays on one thread.

    Returns
    -------
    moderngl.Context
        A context with no default framebuffer; render into framebuffers you create.

    Raises
    ------
    OffscreenContextError
        EGL or a GL driver is missing, or the driver offers less than OpenGL 3.3. It is a
        :class:`~installation.errors.UserError` (one line, fixable by installing packages)
        and a ``RuntimeError``.
    """
    try:
        ctx = moderngl.create_standalone_context(backend="egl", require=_REQUIRED_GL)
    except Exception as exc:  # glcontext raises bare Exceptions for a missing libEGL
        raise OffscreenContextError(
            f"cannot create an offscreen OpenGL {_REQUIRED_GL // 100}.{_REQUIRED_GL % 100 // 10}"
            f" context through EGL ({exc}); on Debian/Ubuntu install it with"
            " 'apt-get install libegl1 libgl1-mesa-dri'"
        ) from exc
    return ctx
