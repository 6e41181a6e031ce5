"""Render one real first frame of a show and say what it cost: ``installation check``'s last test.

A show can load, compile and still never show a frame: an endless loop in a shader, or sizes
that take minutes per frame. ``check`` runs this module in a child process with a time limit
(GL work cannot be interrupted from inside the process), at the show's real output size, with
no streams (the idle picture), and reports the child's figures or that it ran out of time.

``python -m installation.first_frame SHOW`` prints one JSON line:
``{"build_s": ..., "frame_s": ..., "size": [w, h]}``.

:func:`probe_passes` is the same guard for replay, rehearsal and the gallery, made cheap enough
to run at every start: only the passes (no generator, so no torch in the child), one line
per pass as the GPU finishes it, so a pass that never ends is named by the
line that never came. ``python -m installation.first_frame --passes SHOW W H [OFF,...]``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from installation.errors import ShowError, UserError

if TYPE_CHECKING:
    from installation.show import Show

__all__ = ["FirstFrame", "Hang", "PassProbe", "hanging_passes", "probe_passes",
           "render_first_frame", "start_probe"]

_log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Hang:
    """A pass that did not finish its probe frame within the limit."""

    index: int  # in the show's [[passes]] list
    shader: str  # the file, as messages name it
    limit_s: float

    def describe(self) -> str:
        return (f"{self.shader}: pass {self.index} did not finish one frame within "
                f"{self.limit_s:g} s (an endless loop?)")


class PassProbe:
    """One probe child, started at once; :meth:`result` waits for its verdict, so the caller
    can load a recording meanwhile (the child runs on another core). A context manager: on
    leaving, a child still running is killed.

    Parameters
    ----------
    show
        The loaded show (its ``[[passes]]``).
    time_limit_s
        Seconds the whole probe may take, from its start (start-up, compile and the frame);
        0: no probe, :meth:`result` answers ``None``.
    off
        Indices of passes already turned off (passed through), e.g. found hanging before.
    size
        The frame size the mode renders at (``None``: ``[output] size``). Not smaller: a
        loop that llvmpipe cuts off after 65,535 turns ends in a second on a small frame
        and takes minutes on the real one.
    """

    def __init__(self, show: Show, time_limit_s: float, off: Collection[int] = (),
                 size: tuple[int, int] | None = None) -> None:
        self.show, self.time_limit_s, self.off = show, time_limit_s, frozenset(off)
        self._began = time.monotonic()
        self._child: subprocess.Popen[str] | None = None
        if time_limit_s > 0:
            w, h = size or show.output.size
            command = [sys.executable, "-m", "installation.first_frame", "--passes",
                       str(show.path), str(w), str(h), ",".join(map(str, sorted(self.off)))]
            self._child = subprocess.Popen(command, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)

    def result(self) -> Hang | None:
        """Wait for the child (at most what is left of the limit).

        Returns
        -------
        Hang or None
            The first pass, in drawing order, that the GPU had not finished when the limit
            ran out (the child is killed); ``None`` when the frame came.

        Raises
        ------
        ShowError
            The show failed otherwise (a shader that does not compile...): the child's one
            line, naming the file, as the mode's own build would say it.
        """
        child = self._child
        if child is None:
            return None
        left = max(0.0, self.time_limit_s - (time.monotonic() - self._began))
        try:
            out, err = child.communicate(timeout=left)
        except subprocess.TimeoutExpired:
            child.kill()
            out, _ = child.communicate()  # what the child said before it was killed
            return _hang(self.show, out, self.time_limit_s, self.off)
        if child.returncode == 0:
            return None
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {child.returncode}"
        if child.returncode == 2:  # the show's fault: the very line its own build would give
            raise ShowError(last)
        # The probe itself could not run (no EGL beside a kiosk's window context, a driver
        # crash): the show must still start, unprobed, rather than not at all.
        _log.warning("%s: no first-frame probe (%s); going on without it", self.show.path,
                     last)
        return None

    def require(self) -> None:
        """Replay and rehearsal: :meth:`result`, and a hang is an error.

        Raises
        ------
        ShowError
            A pass never finished its frame: one line naming its shader file and the limit.
        """
        hang = self.result()
        if hang is not None:
            raise ShowError(f"{hang.describe()} ({self.show.path} output.probe_limit_s)")

    def close(self) -> None:
        """Kill the child if it is still running."""
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.communicate()

    def __enter__(self) -> PassProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def probe_passes(show: Show, time_limit_s: float, off: Collection[int] = (),
                 size: tuple[int, int] | None = None) -> Hang | None:
    """Draw one frame of ``show``'s passes in a child process and name the first that
    hangs: a :class:`PassProbe` waited for at once."""
    with PassProbe(show, time_limit_s, off, size) as probe:
        return probe.result()


def start_probe(show: Show, size: tuple[int, int] | None = None) -> PassProbe:
    """Replay and rehearsal: start probing ``show`` within ``[output] probe_limit_s`` (0: a
    probe that answers at once); call :meth:`PassProbe.require` before opening a GL
    context."""
    return PassProbe(show, show.output.probe_limit_s, size=size)


def hanging_passes(show: Show, time_limit_s: float,
                   before: Callable[[float], None] | None = None) -> list[Hang]:
    """The gallery's probe: every pass that never finishes its frame, to be turned off.

    Probes again with each hanging pass turned off, until a frame comes or every pass is
    off (then the frame is the generated image, passed through), so a second endless pass
    behind the first is found too.

    Parameters
    ----------
    show
        The loaded show.
    time_limit_s
        Seconds each probe may take.
    before
        Called with the seconds the next probe may take, before it starts (the gallery
        tells systemd to wait that much longer for READY).
    """
    hangs: list[Hang] = []
    off: set[int] = set()
    while len(off) < len(show.passes):
        if before is not None:
            before(time_limit_s)
        hang = probe_passes(show, time_limit_s, off)
        if hang is None:
            break
        hangs.append(hang)
        off.add(hang.index)
    return hangs


def _hang(show: Show, out: str, limit_s: float, off: Collection[int]) -> Hang:
    from installation.render.shader_source import display_path

    lines = out.splitlines()
    order: list[int] = json.loads(lines[0])["order"] if lines else []
    done = {int(ln) for ln in lines[1:] if ln.strip().isdigit()}
    waiting = [i for i in order if i not in done and i not in off]
    # No order line yet: the child hung (or was slow) before drawing; blame the first pass.
    index = waiting[0] if waiting else next(
        (i for i in range(len(show.passes)) if i not in off), 0)
    spec = show.passes[index].to_spec()
    where = spec.shader or spec.compute
    return Hang(index, display_path(where) if where is not None else f"pass {index}", limit_s)


def _probe_main(argv: list[str]) -> int:
    from installation.render.gl_context import OffscreenContextError, create_offscreen_context
    from installation.render.passes import Renderer
    from installation.show import load_show, pass_specs

    try:
        show = load_show(argv[0])
        size = (int(argv[1]), int(argv[2]))
        off = {int(i) for i in argv[3].split(",") if i} if len(argv) > 3 else set()
        try:
            ctx = create_offscreen_context()
        except OffscreenContextError as error:
            print(f"{error}", file=sys.stderr)
            return 3  # not the show's fault: the parent goes on unprobed
        try:
            gen = show.generator.size
            renderer = Renderer(ctx, pass_specs(show), size=size,
                                gen_size=(min(gen[0], 64), min(gen[1], 64)))
            renderer.turned_off |= off
            print(json.dumps({"order": list(renderer.draw_order)}), flush=True)

            def finished(index: int) -> None:
                ctx.finish()  # waits for the GPU: where an endless pass hangs
                print(index, flush=True)

            renderer.after_pass = finished
            # The idle picture, as the piece starts: every control at its idle value.
            controls = {m.control: m.idle for m in show.mappings}
            renderer.render(t=0.0, frame_mix=0.0, controls=controls, index=0)
            renderer.release()
        finally:
            ctx.release()
    except UserError as error:
        print(f"{error}", file=sys.stderr)
        return 2
    return 0


def _main(argv: list[str]) -> int:
    if argv and argv[0] == "--passes":
        return _probe_main(argv[1:])
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
