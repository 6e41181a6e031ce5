"""Moods: anchors from seeds and saved latents, and the body's walk among them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from installation.errors import ModelError, ShowError
from installation.generator.factory import make_generator, make_walk
from installation.generator.moods import MoodWalk, blend, load_latent, mood_weights
from installation.messages import Controls
from installation.show import GeneratorSpec, MoodSpec, load_show

SPEC = GeneratorSpec(size=(48, 32), seed=3, max_step=10.0, drift=0.0, temperature=0.0,
                     pulse_kick=0.0)
MOODS = (
    MoodSpec(name="still", position=(1.0, 0.0), seed=11),
    MoodSpec(name="storm", position=(0.0, 1.0), seed=12),
    MoodSpec(name="glow", position=(1.0, 1.0), seed=13),
)


def ctl(t: float = 0.0, **values: float) -> Controls:
    return Controls(t=t, values=values)


def walk(spec: GeneratorSpec = SPEC, moods: tuple[MoodSpec, ...] = MOODS) -> MoodWalk:
    out = make_walk(spec, moods, spec.latent_dim)
    assert isinstance(out, MoodWalk)
    return out


def test_controls_at_a_moods_position_lead_to_that_moods_anchor() -> None:
    w = walk(GeneratorSpec(max_step=10.0, drift=0.0, temperature=0.0, pulse_kick=0.0,
                           mood_spread=0.1))
    for i, mood in enumerate(MOODS):
        z = w.target(ctl(calm=mood.position[0], energy=mood.position[1]))
        assert torch.allclose(z, w.anchors[i], atol=1e-3), mood.name


def test_weights_sum_to_one_and_favour_the_nearest_mood() -> None:
    positions = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    weights = mood_weights(positions, torch.tensor([0.2, 0.1]), spread=0.35)
    assert float(weights.sum()) == pytest.approx(1.0)
    assert weights[0] > weights[1]


def test_blend_keeps_the_latent_norm_between_equal_norm_anchors() -> None:
    a, b = torch.randn(16), torch.randn(16)
    b = b / b.norm() * a.norm()
    mid = blend(torch.stack([a, b]), torch.tensor([0.5, 0.5]))
    assert float(mid.norm()) == pytest.approx(float(a.norm()), rel=1e-4)  # slerp-like, not lerp


def test_valence_is_a_third_coordinate() -> None:
    spec = GeneratorSpec(max_step=10.0, drift=0.0, temperature=0.0, pulse_kick=0.0,
                         valence_control="valence", mood_spread=0.2)
    moods = (MoodSpec(name="dark", position=(0.5, 0.5, 0.0), seed=1),
             MoodSpec(name="bright", position=(0.5, 0.5, 1.0), seed=2))
    w = walk(spec, moods)
    dark = w.target(ctl(calm=0.5, energy=0.5, valence=0.0))
    bright = w.target(ctl(calm=0.5, energy=0.5, valence=1.0))
    assert float((dark - w.anchors[0]).norm()) < float((dark - w.anchors[1]).norm())
    assert float((bright - w.anchors[1]).norm()) < float((bright - w.anchors[0]).norm())


def test_walk_steps_are_bounded_whatever_the_controls_do() -> None:
    w = walk(GeneratorSpec(max_step=0.15, temperature=2.0, pulse_kick=3.0))
    previous = w(ctl(calm=0.0, energy=0.0))
    rng = np.random.default_rng(0)
    for i in range(40):
        z = w(ctl(t=i * 0.1, calm=float(rng.random()), energy=float(rng.random()),
                  pulse=float(rng.random()), temperature=1.0))
        assert float((z - previous).norm()) <= 0.15 + 1e-5
        previous = z


def test_walk_drifts_by_itself_with_nobody_there() -> None:
    w = walk(GeneratorSpec())
    assert float((w.target(ctl(t=0.0)) - w.target(ctl(t=5.0))).norm()) > 0.05


def test_temperature_control_lets_the_walk_wander_further_from_the_anchors() -> None:
    spec = GeneratorSpec(temperature_control="temp", temperature=1.0, drift=0.35,
                         pulse_kick=0.0, mood_spread=0.1)
    w = walk(spec)

    def distance(temp: float) -> float:
        anchor = w.anchors[0]
        return float(np.mean([float((w.target(ctl(t=t, calm=1.0, energy=0.0, temp=temp))
                                     - anchor).norm()) for t in np.linspace(0, 30, 31)]))

    assert distance(1.0) > 2.0 * distance(0.0)


def test_pulse_moves_the_latent_in_phase_with_the_beat() -> None:
    w = walk(GeneratorSpec(drift=0.0, temperature=0.0, pulse_kick=0.5))
    rest = w.target(ctl(t=1.0, pulse=0.0))
    beat = w.target(ctl(t=1.0, pulse=1.0))
    half = w.target(ctl(t=1.0, pulse=0.5))
    assert float((beat - rest).norm()) == pytest.approx(0.5, rel=1e-4)
    assert float((half - rest).norm()) == pytest.approx(0.25, rel=1e-4)


def test_mood_walk_is_deterministic() -> None:
    sequence = [ctl(t=i / 15, calm=i / 20, energy=0.3, pulse=(i % 5) / 5) for i in range(20)]
    a = [walk(GeneratorSpec())(c) for c in sequence]
    b = [walk(GeneratorSpec())(c) for c in sequence]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_latent_file_mood_anchors_exactly_there(tmp_path: Path) -> None:
    vector = np.linspace(-1, 1, 8).astype(np.float32)
    np.save(tmp_path / "dawn.npy", vector)
    moods = (MoodSpec(name="dawn", position=(0.5, 0.5), latent=tmp_path / "dawn.npy"),)
    w = walk(GeneratorSpec(drift=0.0, temperature=0.0, pulse_kick=0.0), moods)
    assert np.allclose(w.target(ctl()).numpy(), vector, atol=1e-6)


def test_wrong_shape_latent_file_is_a_model_error_naming_it(tmp_path: Path) -> None:
    np.save(tmp_path / "bad.npy", np.zeros(5, dtype=np.float32))
    with pytest.raises(ModelError, match=r"bad\.npy: latent must have shape \(8,\)"):
        load_latent(tmp_path / "bad.npy", 8)


def write_show(tmp_path: Path, body: str) -> Path:
    (tmp_path / "p.frag").write_text("void main() {}\n")
    path = tmp_path / "show.toml"
    path.write_text(body + '\n[[passes]]\nshader = "p.frag"\n')
    return path


def test_show_moods_steer_the_generated_image(tmp_path: Path) -> None:
    show = load_show(write_show(tmp_path, """
[generator]
size = [48, 32]
max_step = 10.0

[[moods]]
name = "still"
position = [1.0, 0.0]
seed = 1

[[moods]]
name = "storm"
position = [0.0, 1.0]
seed = 2
"""))
    assert [m.name for m in show.moods] == ["still", "storm"]
    still = make_generator(show, device="cpu")(ctl(calm=1.0, energy=0.0)).pixels.astype(float)
    storm = make_generator(show, device="cpu")(ctl(calm=0.0, energy=1.0)).pixels.astype(float)
    assert np.abs(still - storm).mean() > 15


def test_mood_with_two_sources_is_a_show_error(tmp_path: Path) -> None:
    path = write_show(tmp_path, '[[moods]]\nname = "x"\nposition = [0, 0]\nseed = 1\n'
                                'latent = "x.npy"\n')
    with pytest.raises(ShowError,
                       match=r"show.toml:1: moods\[0\]: mood .x. needs exactly one of seed"):
        load_show(path)


def test_image_mood_without_a_vae_is_a_show_error(tmp_path: Path) -> None:
    show = load_show(write_show(tmp_path, '[[moods]]\nname = "x"\nposition = [0, 0]\n'
                                          'image = "x.png"\n'))
    with pytest.raises(ShowError, match=r"moods\[0\]\.image \(x\): an image mood needs"):
        make_generator(show, device="cpu")
