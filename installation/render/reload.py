"""Hot reload for rehearsal: edited shaders apply within a second, typos never blank it.

Change detection polls file modification times (``stat`` of a handful of files every
0.25 s) instead of using an OS file-watching library: it needs no extra dependency or
thread, works on network shares and in containers where inotify events do not arrive, sees
editors that save by rename, and the cost of a few ``stat`` calls per poll is negligible.
GL calls stay on the caller's thread: :meth:`ShaderWatcher.poll` is called from the render
loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from installation.errors import ShaderError, ShowError
from installation.messages import Frame
from installation.render.passes import Renderer
from installation.render.shader_source import load_shader
from installation.show import Show, load_show


def _signature(paths: tuple[Path, ...]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for path in paths:
        try:
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(path), -1, -1))  # deleted mid-save: a change too
    return tuple(out)


@dataclass
class ShaderWatcher:
    """Recompiles a :class:`Renderer`'s passes when any of their files change.

    Parameters
    ----------
    renderer
        The renderer whose passes are watched and reloaded.
    interval_s
        Seconds between checks (0.25 s keeps an edit's latency well under 1 s).
    clock
        Monotonic time source, swappable for tests.

    Attributes
    ----------
    error
        The last reload's error message (one line, file:line), or ``None`` when the running
        program is up to date. The last good program keeps running meanwhile.
    """

    renderer: Renderer
    interval_s: float = 0.25
    clock: Callable[[], float] = time.monotonic
    error: str | None = field(default=None, init=False)
    reloads: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._files = self._watched_files()
        self._seen = _signature(self._files)
        self._next = self.clock() + self.interval_s

    def _watched_files(self) -> tuple[Path, ...]:
        files: list[Path] = []
        for spec in self.renderer.passes:
            for path in spec.files:  # the fragment shader and, for particles, the compute one
                try:
                    files += load_shader(path).files
                except ShaderError:
                    files.append(path)  # a broken #include: watch the pass file itself
        return tuple(dict.fromkeys(files))

    def poll(self, force: bool = False) -> bool:
        """Reload if a watched file changed since the last check.

        Returns
        -------
        bool
            ``True`` when new programs were swapped in.
        """
        now = self.clock()
        if not force and now < self._next:
            return False
        self._next = now + self.interval_s
        seen = _signature(self._files)
        if not force and seen == self._seen:
            return False
        self._seen = seen
        try:
            self.renderer.reload()
        except ShaderError as error:
            self.error = str(error)
            return False
        finally:
            # Includes may have been added or removed by the edit.
            self._files = self._watched_files()
            self._seen = _signature(self._files)
        self.error = None
        self.reloads += 1
        return True


def draw_error(frame: Frame, message: str) -> Frame:
    """The frame with a red bar across the top and ``message`` written on it.

    Uses Pillow's built-in bitmap font so nothing needs installing; long messages wrap.
    """
    height, width = frame.pixels.shape[:2]
    font = ImageFont.load_default()
    chars = max(10, width // 7)
    lines = [message[i:i + chars] for i in range(0, len(message), chars)][:6] or [""]
    bar = min(height, 8 + 13 * len(lines))
    image = Image.fromarray(frame.pixels)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, bar), fill=(170, 0, 0))
    for i, line in enumerate(lines):
        draw.text((4, 4 + 13 * i), line, fill=(255, 255, 255), font=font)
    return Frame(index=frame.index, t=frame.t, pixels=np.asarray(image))


@dataclass
class ShowWatcher:
    """Reloads ``show.toml`` when it changes; a broken edit keeps the last good show.

    :meth:`poll` returns the new :class:`~installation.show.Show` when the file changed and
    loads cleanly (the caller swaps it in: mappings, passes via :class:`ShaderWatcher`'s
    renderer, output); otherwise ``None``, with :attr:`error` set while the file is broken.
    """

    path: Path
    interval_s: float = 0.25
    clock: Callable[[], float] = time.monotonic
    error: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._seen = _signature((self.path,))
        self._next = self.clock() + self.interval_s

    def poll(self) -> Show | None:
        """The re-loaded show if the file changed since the last poll and is valid."""
        now = self.clock()
        if now < self._next:
            return None
        self._next = now + self.interval_s
        seen = _signature((self.path,))
        if seen == self._seen:
            return None
        self._seen = seen
        try:
            show = load_show(self.path)
        except ShowError as error:
            self.error = str(error)
            return None
        self.error = None
        return show
