"""A real recording replayed through a show whose generator is the tiny diffusion model,
loaded from its folder as an artist's would be: byte-identical twice, and it follows the
moods."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av

from installation.modes.replay import ReplayOptions, replay
from installation.pipeline import Step
from installation.show import load_show
from tests.diffusion.conftest import DEMO, write_show

SWAPPED = """
[[moods]]
name = "still water"
position = [0.0, 1.0]
prompt = "still water at dawn"

[[moods]]
name = "storm"
position = [1.0, 0.1]
prompt = "a storm over the sea"
"""


def render(show: Path, out: Path, duration: float = 3.0) -> tuple[list[str], list[str]]:
    """Hashes of every output frame and of every generated image."""
    frames: list[str] = []
    generated: list[str] = []

    def keep(step: Step) -> None:
        frames.append(hashlib.sha256(step.frame.pixels.tobytes()).hexdigest())
        if step.generated is not None:  # its buffer is reused: hash it now
            generated.append(hashlib.sha256(step.generated.pixels.tobytes()).hexdigest())

    options = ReplayOptions(size=(48, 32), fps=8, start=20.0, duration=duration,
                            progress=False, device="cpu")
    replay(DEMO, load_show(show), out, options, on_step=keep)
    return frames, generated


def test_a_diffusion_replay_is_byte_identical_and_follows_the_moods(tmp_path, tiny_model):
    show = write_show(tmp_path / "show", tiny_model.pipe)
    first = render(show, tmp_path / "a.mp4")
    second = render(show, tmp_path / "b.mp4")
    assert first == second
    assert len(first[1]) >= 10 and len(set(first[1])) > 1  # it moves
    with av.open(str(tmp_path / "a.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == len(first[0]) == 24
    swapped = render(write_show(tmp_path / "swapped", tiny_model.pipe, moods=SWAPPED),
                     tmp_path / "c.mp4")
    assert swapped[1] != first[1]


def test_a_repainted_cppn_replay_is_byte_identical(tmp_path, tiny_model):
    show = write_show(tmp_path / "show", tiny_model.pipe, model="cppn",
                      generator='[[generator.stages]]\nkind = "diffusion"\n'
                                'strength_control = "calm"')
    first = render(show, tmp_path / "a.mp4", duration=2.0)
    assert first == render(show, tmp_path / "b.mp4", duration=2.0)
    plain = write_show(tmp_path / "plain", tiny_model.pipe, model="cppn", moods="")
    assert render(plain, tmp_path / "c.mp4", duration=2.0)[1] != first[1]
