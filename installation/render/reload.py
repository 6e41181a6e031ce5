"""Hot reload for rehearsal: edited shaders apply within a second, typos never blank it.

Change detection polls file modification times (``stat`` of a handful of files every
0.25 s) instead of using an OS file-watching library: it needs no extra dependency or
thread, works on network shares and in containers where inotify events do not arrive, sees
editors that save by rename, and the cost of a few ``stat`` calls per poll is negligible.
GL calls stay on the caller's thread: :meth:`ShaderWatcher.poll` is called from the render
loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from installation.errors import ShaderError, ShowError, UserError
from installation.first_frame import probe_passes
from installation.messages import Chunk, Controls, Features, Frame
from installation.render.passes import Renderer
from installation.render.shader_source import load_shader
from installation.show import Show, load_show

if TYPE_CHECKING:
    from installation.pipeline import Pipeline, Step

_log = logging.getLogger(__name__)


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
    # Asked before new programs are compiled here: an error line (the edit is not loaded)
    # or None. The rehearsal's first-frame probe, so an edit that never ends one frame
    # cannot freeze the window for good (issue 17).
    probe: Callable[[], str | None] | None = None
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
            refused = self.probe() if self.probe is not None else None
            if refused is not None:
                self.error = refused
                return False
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


def error_bar(frame: Frame, message: str) -> tuple[Frame, int]:
    """The frame with a red bar across the top and ``message`` written on it, and the bar's
    height (the HUD goes below it, so neither covers the other).

    Uses Pillow's scalable default font (no font to install); long messages wrap.
    """
    height, width = frame.pixels.shape[:2]
    size = max(11, height // 28)
    font = ImageFont.load_default(size=size)
    chars = max(10, int(width / (0.55 * size)))
    lines = [message[i:i + chars] for i in range(0, len(message), chars)][:6] or [""]
    bar = min(height, 8 + (size + 4) * len(lines))
    image = Image.fromarray(frame.pixels)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, bar), fill=(170, 0, 0))
    for i, line in enumerate(lines):
        draw.text((4, 4 + (size + 4) * i), line, fill=(255, 255, 255), font=font)
    return Frame(index=frame.index, t=frame.t, pixels=np.asarray(image)), bar


def draw_error(frame: Frame, message: str) -> Frame:
    """The frame with ``message`` on a red bar across the top (see :func:`error_bar`)."""
    return error_bar(frame, message)[0]


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


class ReloadingPipeline:
    """The running :class:`~installation.pipeline.Pipeline`, kept in step with its files.

    Before each step it polls: an edited shader recompiles in place
    (:class:`ShaderWatcher`); an edited ``show.toml`` builds a new pipeline, which takes
    over the sensing state (features' history, the visitor and their baseline) where the
    streams are unchanged, and replaces the old one. A broken edit keeps the last good
    pipeline running and sets :attr:`error`, which is also logged once.

    Parameters
    ----------
    show
        The show to start with.
    build
        Makes a pipeline for a show (the rehearsal's window context and size).
    on_show
        Called with each newly swapped-in show (live input follows its ``[streams]``).
    """

    def __init__(self, show: Show, build: Callable[[Show], Pipeline],
                 on_show: Callable[[Show], None] | None = None) -> None:
        self.build, self.on_show = build, on_show
        self.current = build(show)
        self.shaders = ShaderWatcher(self.current.renderer, probe=self._probe_current)
        self.show_watch = ShowWatcher(show.path)
        self.reloads = 0
        self._error: str | None = None
        self._logged: str | None = None

    # -- the pipeline surface the runtime loop uses ---------------------------------------
    def step(self, chunks: Mapping[str, Chunk], t: float, index: int,
             adjust: Callable[[Controls], Controls] | None = None) -> Step:
        self.poll()
        return self.current.step(chunks, t, index, adjust=adjust)

    def extract(self, chunks: Mapping[str, Chunk], t: float) -> dict[str, Features]:
        self.poll()
        return self.current.extract(chunks, t)

    def reset_sensing(self) -> None:
        self.current.reset_sensing()

    @property
    def history_s(self) -> float:
        return self.current.history_s

    @property
    def show(self) -> Show:
        return self.current.show

    @property
    def generator(self) -> Any:
        return self.current.generator

    @property
    def error(self) -> str | None:
        """The current edit's error (one line, file:line), or ``None``."""
        return self.shaders.error or self.show_watch.error or self._error

    # -- reloading ------------------------------------------------------------------------
    def poll(self, force: bool = False) -> None:
        """Apply edited files (``force``: reload now, changed or not)."""
        self.shaders.poll(force=force)
        show = self.show_watch.poll()
        if show is None and force:
            try:
                show = load_show(self.show.path)
            except ShowError as error:
                self._error = str(error)
        if show is not None:
            self._swap(show)
        self._log_error()

    def _probe(self, show: Show) -> str | None:
        """Draw one frame of ``show``'s passes, as on disk now, in a child process first
        (``[output] probe_limit_s``; 0: no probe): a pass that never ends is named and the
        edit is not loaded, where compiling it here would hang the window. Blocks the
        loop for the probe (about 0.6 s; up to the limit for a pass that never ends)."""
        renderer = self.current.renderer
        try:
            hang = probe_passes(show, show.output.probe_limit_s, off=renderer.turned_off,
                                size=renderer.size)
        except UserError as error:  # e.g. a shader that does not compile: its own line
            return str(error)
        return None if hang is None else f"{hang.describe()}; the edit is not loaded"

    def _probe_current(self) -> str | None:
        return self._probe(self.show)

    def _swap(self, show: Show) -> None:
        refused = self._probe(show)
        if refused is not None:
            self._error = refused
            return
        try:
            pipeline = self.build(show)
        except UserError as error:  # e.g. a uniform the shader lacks: keep the running show
            self._error = str(error)
            return
        pipeline.adopt_sensing(self.current)
        self.current.release()
        self.current, self._error = pipeline, None
        self.shaders = ShaderWatcher(pipeline.renderer, probe=self._probe_current)
        self.reloads += 1
        if self.on_show is not None:
            self.on_show(show)
        _log.info("reloaded %s", show.path)

    def _log_error(self) -> None:
        # Once per distinct error: the terminal is where a long message can be read whole.
        error = self.error
        if error != self._logged:
            if error is not None:
                _log.error("%s (the last good version keeps running)", error)
            self._logged = error

    def release(self) -> None:
        self.current.release()
