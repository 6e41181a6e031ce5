"""The generator chain: a walk, one source (latent -> image), image stages, output buffers.

``Controls -> z`` (the walk) -> ``z -> RGB`` (the source: CPPN, VAE, GAN, TorchScript, ONNX)
-> zero or more image stages (``[[generator.stages]]``: dream, image-to-image model...) ->
uint8 buffers ready for a texture upload. The chain runs lock-step in replay and inside the
worker thread live; it is deterministic for a seed, because every stage keeps its randomness
in its own seeded state.

A stage that fails never reaches the screen: when it raises or returns something that is not
a finite image of the right shape, its input goes on instead (one rate-limited log line); when
it runs out of memory it is switched off for the rest of the run (one log line). A source that
returns non-finite values is replaced by its last good image (mid-grey before the first), so
the piece never shows black or NaN.

Links that paint text prompts (the diffusion source and stage) carry a ``prompts`` blend
(:class:`Prompts`); the chain forwards rehearsal's live prompting to them
(:meth:`GeneratorChain.set_prompt`, :meth:`~GeneratorChain.hud_line`,
:meth:`~GeneratorChain.save_blend`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import torch

from installation.generator.device import cpu_threads
from installation.generator.output import FrameBuffers
from installation.messages import Controls, GeneratedImage

_log = logging.getLogger(__name__)
Walk = Callable[[Controls], torch.Tensor]
LOG_EVERY_S = 10.0  # at most one failure line per stage in this many seconds


class ImageModel(Protocol):
    """A source: one latent in, one RGB image out."""

    latent_dim: int

    def render(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(latent_dim,)`` -> ``(height, width, 3)`` in 0..1 (any strides), same device."""
        ...


class ImageStage(Protocol):
    """An image -> image link after the source.

    ``__call__`` takes ``(1, 3, H, W)`` in 0..1 (the chain's dtype, on its device) and the
    controls of this image (``controls.t`` is engine time), and returns the same shape, dtype
    and device. ``reset`` forgets state (e.g. the dream's previous image).
    """

    name: str

    def __call__(self, image: torch.Tensor, controls: Controls) -> torch.Tensor: ...

    def reset(self) -> None: ...


class Prompts(Protocol):
    """The prompts a link paints, blended by the body (``diffusion.prompts.PromptBlend``)."""

    names: list[str]

    def set_prompt(self, name: str, text: str) -> None:
        """Mood ``name`` paints ``text`` from the next image on; ``KeyError`` if no such mood."""
        ...

    def hud_text(self) -> str:
        """One line: the strongest moods' weights and prompts."""
        ...

    def save(self, path: Path) -> str:
        """Save the current blend to ``path``; the ``[[moods]]`` lines that use it."""
        ...


def _is_oom(error: BaseException) -> bool:
    oom = getattr(torch.cuda, "OutOfMemoryError", None)
    return isinstance(error, MemoryError) or (oom is not None and isinstance(error, oom))


class GuardedStage:
    """Runs one stage so that its failures are bypassed, never shown.

    Parameters
    ----------
    stage
        The stage.
    clock
        Wall clock for the log rate limit only (never for the image).
    """

    def __init__(self, stage: ImageStage, clock: Callable[[], float] = time.monotonic) -> None:
        self.stage = stage
        self.clock = clock
        self.enabled = True
        self.failures = 0
        self._last_log = -float("inf")
        self._unlogged = 0

    def __call__(self, image: torch.Tensor, controls: Controls) -> torch.Tensor:
        if not self.enabled:
            return image
        try:
            out = self.stage(image, controls)
        except Exception as error:  # an artist's model or a bug: bypassed, logged, never fatal
            if _is_oom(error):
                self.enabled = False
                _log.error("generator stage %s ran out of memory (%s): off for the rest of "
                           "the run", self.stage.name, type(error).__name__)
                return image
            return self._bypass(image, f"{type(error).__name__}: {str(error)[:160]}")
        problem = self._check(out, image)
        if problem:
            return self._bypass(image, problem)
        return out

    @staticmethod
    def _check(out: object, image: torch.Tensor) -> str:
        if not isinstance(out, torch.Tensor):
            return f"returned {type(out).__name__}, not a tensor"
        if out.shape != image.shape or out.dtype != image.dtype or out.device != image.device:
            return (f"returned {tuple(out.shape)} {out.dtype} on {out.device}, expected "
                    f"{tuple(image.shape)} {image.dtype} on {image.device}")
        if not bool(torch.isfinite(out).all()):
            return "returned non-finite values (NaN or inf)"
        return ""

    def _bypass(self, image: torch.Tensor, reason: str) -> torch.Tensor:
        self.failures += 1
        now = self.clock()
        if now - self._last_log >= LOG_EVERY_S:
            more = f" (and {self._unlogged} more since the last report)" if self._unlogged else ""
            _log.warning("generator stage %s bypassed for this image: %s%s",
                         self.stage.name, reason, more)
            self._last_log, self._unlogged = now, 0
        else:
            self._unlogged += 1
        return image

    def reset(self) -> None:
        self.stage.reset()


class GeneratorChain:
    """Stateful stage: each call moves the walk one step and renders an image.

    ``GeneratedImage.pixels`` is one of ``buffers`` reused arrays (round-robin): it stays
    valid until ``buffers - 1`` further calls. Copy it to keep it longer.

    Parameters
    ----------
    model
        The source (already on ``device`` in ``dtype``).
    walk
        ``Controls -> z`` (CPU float32).
    size
        ``(width, height)`` of the images handed out.
    device, dtype
        Where the chain runs.
    buffers
        Number of reused output arrays (2: double buffering; the live worker needs 3).
    stages
        Image stages run in order after the source.
    threads
        Torch threads while an image is made on the CPU (default 1: the renderer needs the
        other cores; see :func:`~installation.generator.device.cpu_threads`); ``None``
        leaves torch's own count.
    """

    def __init__(
        self, model: ImageModel, walk: Walk, size: tuple[int, int], device: torch.device,
        dtype: torch.dtype, buffers: int = 2, stages: Sequence[ImageStage] = (),
        threads: int | None = 1,
    ) -> None:
        self.model = model
        self.walk = walk
        self.device, self.dtype = device, dtype
        self.size = size
        self.buffers = FrameBuffers(size[0], size[1], device, dtype, count=buffers)
        self.stages = [GuardedStage(s) for s in stages]
        self._z = torch.empty(model.latent_dim, device=device, dtype=dtype)
        self._last_good: torch.Tensor | None = None
        self._last_source_log = -float("inf")
        self._index = 0
        self.threads = threads

    def __call__(self, controls: Controls) -> GeneratedImage:
        return self.generate(controls, self._index % self.buffers.count)

    @property
    def latent(self) -> torch.Tensor:
        """A copy of the latent of the last image (rehearsal saves it as a mood)."""
        return self._z.detach().clone()

    def reset(self) -> None:
        """Forget the source's and every stage's state (a rehearsal seek), so what is shown
        after the seek does not carry a dream or a grown colony from elsewhere in the
        recording."""
        reset_source = getattr(self.model, "reset", None)
        if callable(reset_source):  # stateful sources (the NCA); stateless ones have none
            reset_source()
        for stage in self.stages:
            stage.reset()

    # -- live prompting (rehearsal), forwarded to the links that paint prompts ---------------
    def _prompts(self) -> list[Prompts]:
        links = [self.model, *(guarded.stage for guarded in self.stages if guarded.enabled)]
        return [p for p in (getattr(link, "prompts", None) for link in links) if p is not None]

    def set_prompt(self, name: str, text: str) -> None:
        """``/prompt NAME "text"``: mood ``name`` paints ``text`` from the next image on, in
        every link that paints prompts.

        Raises
        ------
        KeyError
            No link takes prompts, or no mood has that name (the message lists them).
        """
        prompts = self._prompts()
        if not prompts:
            raise KeyError("this show's generator takes no prompts")
        if name not in prompts[0].names:
            raise KeyError(f"no mood named {name!r} (moods: {', '.join(prompts[0].names)})")
        for blend in prompts:
            blend.set_prompt(name, text)

    def hud_line(self) -> str:
        """One HUD line: the blend of the first link that paints prompts, what each stage
        reports (a diffusion stage's strength), and the stages turned off for this run."""
        prompts = self._prompts()
        parts = [prompts[0].hud_text()] if prompts else []
        for guarded in self.stages:
            if not guarded.enabled:
                parts.append(f"{guarded.stage.name} off (memory)")
                continue
            status = getattr(guarded.stage, "hud_status", None)
            if status is not None:
                parts.append(status())
        return "  ".join(p for p in parts if p)

    def save_blend(self, path: Path) -> str:
        """Save the current prompt blend as ``path`` (.safetensors) and return the TOML lines
        of the mood entry that uses it (rehearsal's ``m``); ``""`` when nothing paints
        prompts or no image was made yet."""
        prompts = self._prompts()
        return prompts[0].save(path) if prompts else ""

    def generate(self, controls: Controls, slot: int) -> GeneratedImage:
        """Step the walk, run the source and the stages, and write into buffer ``slot``."""
        with cpu_threads(self.device, self.threads):
            with torch.inference_mode():
                self._z.copy_(self.walk(controls))
                rgb = self._source(controls)
            if self.stages:
                image = rgb.permute(2, 0, 1)[None]
                for stage in self.stages:
                    image = stage(image, controls)
                rgb = image[0].permute(1, 2, 0)
            with torch.inference_mode():
                pixels = self.buffers.write(rgb, slot)
        out = GeneratedImage(t=controls.t, index=self._index, pixels=pixels)
        self._index += 1
        return out

    def _source(self, controls: Controls) -> torch.Tensor:
        render_controls = getattr(self.model, "render_controls", None)
        if render_controls is not None:
            rgb = render_controls(self._z, controls)
        else:
            rgb = self.model.render(self._z)
        if bool(torch.isfinite(rgb).all()):
            self._last_good = rgb  # sources hand out a fresh tensor per image: no copy needed
            return rgb
        now = time.monotonic()
        if now - self._last_source_log >= LOG_EVERY_S:
            self._last_source_log = now
            _log.warning("generator source returned non-finite values: showing the last good "
                         "image (grey before the first)")
        if self._last_good is None:
            width, height = self.size
            return torch.full((height, width, 3), 0.5, device=self.device, dtype=self.dtype)
        return self._last_good
