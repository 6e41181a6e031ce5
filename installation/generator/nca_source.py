"""The living image: a trained neural CA as a generator source, stepped live by the body.

Each generated image advances the automaton by ``[generator.nca] steps_per_image`` steps
and hands its RGB channels (premultiplied by alpha, i.e. over black) to the renderer as the
generator's texture. The body acts on it through the controls:

- a **heartbeat** (a rise of ``wound_control``, normally the ``pulse`` control fed by
  ``ecg.beat_pulse``) cuts a disc out of the living cells at a random place, its radius
  set by ``wound_size_control`` (normally arousal);
- ``growth_control`` (normally calm) sets the share of cells that update at each step,
  i.e. how fast the wounds grow back;
- while **nobody is there** (the visitor's ``state`` stream is ``lost``) there are no wounds
  and cells update at ``heal_rate``; when a visitor leaves, the colony grows back afresh from
  one cell (``regrow_on_leave``), so it heals back to the artist's image;
- ``lifespan_steps``: an automaton trained briefly grows its image best some hundred steps
  after its seed and then ages (drifts); a colony older than this is grown afresh (0: never).

Deterministic: the stochastic update masks and the wound positions come from generators
seeded by ``generator.seed``, and the number of steps per image is fixed, so a replay of
the same recording and show is byte-identical. A state that dies out (every cell dead) or
breaks (NaN, runaway values) is replaced by a fresh seed, which grows the image again: the
piece is never black for long and never NaN.
"""

from __future__ import annotations

import logging

import torch

from installation.errors import ModelError
from installation.generator.nca import NcaCheckpoint, fire_mask, load_checkpoint, seed_state
from installation.messages import Controls, Status
from installation.show import STATE_STREAM, GeneratorSpec

_log = logging.getLogger(__name__)
STATE_LIMIT = 8.0  # far beyond what training allows (-1..1 plus overflow); only a guard


def visitor_present(controls: Controls) -> bool:
    """Whether a visitor is there, as the idle behaviour decides it (``installation.idle``)."""
    statuses = controls.stream_status
    if STATE_STREAM in statuses:
        return statuses[STATE_STREAM] is not Status.LOST
    return any(status is Status.OK for status in statuses.values())


def _lerp(pair: tuple[float, float], x: float) -> float:
    return pair[0] + (pair[1] - pair[0]) * min(1.0, max(0.0, x))


class NcaSource:
    """A trained automaton as an image source (``latent_dim``, ``render``, ``render_controls``).

    Parameters
    ----------
    spec
        The show's ``[generator]`` table: ``path`` (the checkpoint), ``size`` (the state
        grid, at least the trained grid; the image grows in its middle), ``seed`` and
        ``nca`` (the behaviour).
    device
        Where the automaton runs. The state stays float32 on every device: it is integrated
        over millions of steps in a long show, and half precision would drift.
    checkpoint
        An already loaded checkpoint (``None``: load ``spec.path``).
    """

    latent_dim = 1  # the image comes from the state, not from a latent

    def __init__(self, spec: GeneratorSpec, device: torch.device,
                 checkpoint: NcaCheckpoint | None = None) -> None:
        if checkpoint is None:
            assert spec.path is not None  # GeneratorSpec refuses a path-less nca
            checkpoint = load_checkpoint(spec.path)
        self.checkpoint = checkpoint
        self.config = checkpoint.config
        width, height = spec.size
        if width < self.config.size or height < self.config.size:
            raise ModelError(
                f"{checkpoint.path}: trained on a {self.config.size}x{self.config.size} grid;"
                f" generator.size {width}x{height} must be at least that")
        self.settings = spec.nca
        self.seed = spec.seed
        self.size = (width, height)
        self.device = device
        self.model = checkpoint.model.to(device, torch.float32).eval()
        self.image_radius = self.config.image_size / 2.0
        # The colony lives in a dish the size of its training grid, in the middle of the
        # image: as in training, the world ends at the dish's edge (zero padding), which is
        # part of what keeps the grown image in its shape.
        side = self.config.size
        self._top, self._left = (height - side) // 2, (width - side) // 2
        self._image = torch.zeros(height, width, 3, device=device)
        self.reseeds = 0  # how often the state died out or broke and grew again
        self.rebirths = 0  # how often the colony was grown afresh (a departure, old age)
        self.wounds = 0
        self.reset()

    def reset(self) -> None:
        """Start again from a single cell (a seek backwards in rehearsal, and at start)."""
        self._seed()
        self._steps = torch.Generator(device=self.device).manual_seed(self.seed)
        self._wound_gen = torch.Generator().manual_seed(self.seed + 1)
        self._last_wound_value: float | None = None
        self._last_t: float | None = None
        self._present = False

    def _seed(self) -> None:
        side = self.config.size
        self.state = seed_state(1, self.config, side, side, self.device)
        self.age = 0.0  # in full-rate steps since the seed

    def render(self, z: torch.Tensor) -> torch.Tensor:
        """One image with no body acting on it (heals at ``heal_rate``)."""
        return self._advance(self.settings.heal_rate)

    @torch.inference_mode()
    def render_controls(self, z: torch.Tensor, controls: Controls) -> torch.Tensor:
        """Wound at a beat, then step at the growth rate the controls ask for."""
        s = self.settings
        if self._last_t is not None and controls.t < self._last_t:
            self.reset()  # time went back (a rehearsal seek): grow afresh, as a replay would
        self._last_t = controls.t
        values = controls.values
        present = visitor_present(controls)
        if self._present and not present and s.regrow_on_leave:
            self.rebirth()  # they left: the image grows back whole from its heart
        self._present = present
        if s.lifespan_steps and self.age >= s.lifespan_steps:
            self.rebirth()
        if s.wound_control:
            value = float(values.get(s.wound_control, 0.0))
            previous = self._last_wound_value
            self._last_wound_value = value
            if present and previous is not None and value - previous >= s.wound_rise:
                size = values.get(s.wound_size_control, 0.5) if s.wound_size_control else 0.5
                self.wound(_lerp(s.wound_radius, float(size)))
        if not present:
            rate = s.heal_rate
        elif s.growth_control:
            rate = _lerp(s.growth_rate, float(values.get(s.growth_control, 1.0)))
        else:
            rate = s.growth_rate[1]
        return self._advance(rate)

    def rebirth(self) -> None:
        """Grow the colony afresh from one cell (a departure, or the end of its lifespan)."""
        self._seed()
        self.rebirths += 1

    @torch.inference_mode()
    def wound(self, radius: float) -> None:
        """Cut a disc of ``radius`` (a share of the image's radius) out of the state, at a
        seeded random place within the image."""
        side = self.config.size
        # A random point in the image's disc (radius 0.7 so wounds bite the picture itself).
        angle = float(torch.rand((), generator=self._wound_gen)) * 2.0 * torch.pi
        dist = 0.7 * self.image_radius * float(torch.rand((), generator=self._wound_gen)) ** 0.5
        cx = side // 2 + dist * float(torch.cos(torch.tensor(angle)))
        cy = side // 2 + dist * float(torch.sin(torch.tensor(angle)))
        r = radius * self.image_radius
        ys = torch.arange(side, device=self.device, dtype=torch.float32)[:, None]
        xs = torch.arange(side, device=self.device, dtype=torch.float32)[None, :]
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 < r * r
        self.state.mul_((~inside).to(self.state.dtype))
        self.wounds += 1

    @torch.inference_mode()
    def _advance(self, rate: float) -> torch.Tensor:
        state = self.state
        for _ in range(self.settings.steps_per_image):
            state = self.model(state, fire_mask(state, rate, self._steps))
        self.age += self.settings.steps_per_image * rate / self.config.fire_rate
        alive = bool((state[:, 3] > self.config.alive_threshold).any())
        largest = float(state.abs().amax())  # NaN if any value is NaN
        if not alive or not largest <= STATE_LIMIT:
            self.reseeds += 1
            _log.warning("living image %s: the automaton %s; growing it again from a seed "
                         "(%d so far)", self.checkpoint.path.name,
                         "broke" if alive else "died out", self.reseeds)
            self._seed()
            state = self.state
        self.state = state
        side = self.config.size
        dish = self._image[self._top:self._top + side, self._left:self._left + side]
        dish.copy_(state[0, :3].clamp(0.0, 1.0).permute(1, 2, 0))
        return self._image
