"""DeepDream on the engine's own networks: bounded, seeded, with feedback and controls."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from installation.errors import ModelError
from installation.generator.factory import make_generator
from installation.generator.gan import DcganDiscriminator, Discriminator, GanConfig
from installation.generator.stages.dream import (
    DiscriminatorLayer,
    DreamStage,
    EncoderLayer,
    match_colours,
    warp,
)
from installation.generator.vae import Vae, VaeConfig, save_checkpoint
from installation.messages import Controls
from installation.show import StageSpec, load_show

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
SPEC = StageSpec(kind="dream", octaves=2, steps=3, step_size=0.02, jitter=2)
CTL = Controls(t=0.0, values={})


class Texture(nn.Module):
    """A small real conv net (seeded) whose activations the dream can grow."""

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(8, 8, 3, padding=1))
        self.gain = gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * self.gain


def frozen(net: nn.Module) -> nn.Module:
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def image(seed: int = 1, size: tuple[int, int] = (40, 56)) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, *size, generator=gen) * 0.5 + 0.25


def energy(net: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        return float(net(x).pow(2).mean())


def test_dreaming_grows_the_layers_activations() -> None:
    net = frozen(Texture())
    x = image()
    out = DreamStage(SPEC, net, torch.device("cpu"))(x, CTL)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert energy(net, out) > 1.05 * energy(net, x)


@pytest.mark.parametrize("gain", [1.0, 1e6])
def test_steps_are_normalised_and_clamped_so_it_never_blows_out(gain: float) -> None:
    # Whatever the network's gradient scale, no pixel moves more than step_size per step.
    x = image()
    out = DreamStage(SPEC, frozen(Texture(gain)), torch.device("cpu"))(x, CTL)
    budget = SPEC.octaves * SPEC.steps * SPEC.step_size
    assert float((out - x).abs().max()) <= budget + 0.02  # + resampling between octaves
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert bool(torch.isfinite(out).all())


def test_the_dream_is_seeded_and_reset_starts_it_afresh() -> None:
    net = frozen(Texture())
    spec = replace(SPEC, feedback=True)
    a, b = DreamStage(spec, net, torch.device("cpu")), DreamStage(spec, net, torch.device("cpu"))
    first = [a(image(i), CTL) for i in range(3)]
    assert all(torch.equal(x, b(image(i), CTL)) for i, x in enumerate(first))
    a.reset()
    assert torch.equal(a(image(0), CTL), first[0])


def test_intensity_follows_its_control_and_zero_leaves_the_image() -> None:
    net = frozen(Texture())
    stage = DreamStage(replace(SPEC, intensity_control="arousal"), net, torch.device("cpu"))
    x = image()
    still = stage(x, Controls(t=0.0, values={"arousal": 0.0}))
    low = stage(x, Controls(t=0.0, values={"arousal": 0.2}))
    high = stage(x, Controls(t=0.0, values={"arousal": 1.0}))
    assert torch.equal(still, x)
    assert float((low - x).abs().mean()) < float((high - x).abs().mean())


def test_feedback_dreams_on_the_last_image_zoomed_and_kicked_by_its_control() -> None:
    net = frozen(Texture())
    spec = replace(SPEC, feedback=True, feedback_mix=1.0, zoom=1.0, rotate=0.0,
                   zoom_control="pulse", zoom_kick=0.2, intensity=0.0)
    stage = DreamStage(spec, net, torch.device("cpu"))
    x, y = image(1), image(2)
    assert torch.equal(stage(x, CTL), x)  # nothing to feed back yet
    # feedback_mix 1, no dream, no zoom: the last image comes back, in the new one's colours.
    back = stage(y, Controls(t=0.1, values={"pulse": 0.0}))
    assert torch.allclose(back, match_colours(x, y), atol=1e-5)
    kicked = stage(y, Controls(t=0.2, values={"pulse": 1.0}))
    assert torch.allclose(kicked, match_colours(warp(back, 1.2, 0.0), y), atol=1e-5)


def test_feedback_never_drifts_into_one_colour() -> None:
    # Dreaming on its own output for 40 images keeps the source's palette (means, spread).
    stage = DreamStage(replace(SPEC, feedback=True, step_size=0.05), frozen(Texture()),
                       torch.device("cpu"))
    source = image(3)
    for i in range(40):
        out = stage(source, Controls(t=i / 15, values={}))
    mean_shift = (out.mean(dim=(2, 3)) - source.mean(dim=(2, 3))).abs().max()
    assert float(mean_shift) < 0.08
    assert float(out.std()) > 0.5 * float(source.std())


def test_warp_by_nothing_is_the_identity_and_zoom_magnifies_the_centre() -> None:
    x = image()
    assert torch.allclose(warp(x, 1.0, 0.0), x, atol=1e-5)
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 3, 32, 64)
    zoomed = warp(ramp, 2.0, 0.0)
    assert float(zoomed[..., 0].mean()) == pytest.approx(0.25, abs=0.02)


def test_mix_blends_the_dream_with_its_input() -> None:
    net = frozen(Texture())
    x = image()
    full = DreamStage(SPEC, net, torch.device("cpu"))(x, CTL)
    half = DreamStage(replace(SPEC, mix=0.5), net, torch.device("cpu"))(x, CTL)
    assert torch.allclose(half, (x + full) / 2, atol=1e-6)


def test_octaves_never_go_below_16_pixels() -> None:
    stage = DreamStage(replace(SPEC, octaves=8, octave_scale=2.0), frozen(Texture()),
                       torch.device("cpu"))
    assert stage.octave_sizes(144, 256) == [(18, 32), (36, 64), (72, 128), (144, 256)]


def test_the_gan_discriminator_and_the_vae_encoder_are_dreamable_layers() -> None:
    config = GanConfig(size=32, latent_dim=4, channels=2, d_channels=4)
    x = image(size=(48, 80))
    fastgan = frozen(Discriminator(replace(config, arch="fastgan", d_norm="spectral")))
    shallow, deep = DiscriminatorLayer(fastgan, 1)(x), DiscriminatorLayer(fastgan, 9)(x)
    assert shallow.shape[-2:] == (24, 40) and deep.shape[-2:] == (12, 20)  # capped at depth
    dcgan = frozen(DcganDiscriminator(config))  # strided convs down to 4x4 at 32 px
    shallow, deep = DiscriminatorLayer(dcgan, 1)(x), DiscriminatorLayer(dcgan, 9)(x)
    assert shallow.shape[-2:] == (24, 40) and deep.shape[-2:] == (6, 10)
    encoder = frozen(Vae(VaeConfig(size=16, latent_dim=4, channels=4))).encoder
    assert EncoderLayer(encoder, 1)(x).shape[1:] == (4, 24, 40)
    assert EncoderLayer(encoder, 5)(x).shape[1:] == (8, 12, 20)


def show_with(folder: Path, generator: str, stage: str) -> Path:
    (folder / "p.frag").write_text("void main() {}\n")
    show = folder / "show.toml"
    show.write_text(f"[generator]\nsize = [48, 32]\n{generator}\n[[generator.stages]]\n"
                    f'kind = "dream"\n{stage}\n[[passes]]\nshader = "p.frag"\n')
    return show


def test_a_vae_show_dreams_on_its_own_encoder(tmp_path: Path) -> None:
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "vae.pt", Vae(VaeConfig(size=16, latent_dim=4, channels=4)),
                    "hash", 1)
    plain = tmp_path / "plain"
    plain.mkdir()
    model = f'model = "vae"\npath = "{tmp_path / "vae.pt"}"\n'
    dreamt = make_generator(load_show(show_with(tmp_path, model, "step_size = 0.05")), "cpu")
    assert type(dreamt.stages[0].stage.network).__name__ == "EncoderLayer"
    undreamt = make_generator(load_show(show_with(plain, model, "enabled = false")), "cpu")
    a = dreamt(CTL).pixels.astype(float)
    b = undreamt(CTL).pixels.astype(float)
    assert np.abs(a - b).mean() > 1.0


def test_a_torchscript_network_drives_a_cppn_dream(tmp_path: Path) -> None:
    torch.jit.script(Texture()).save(str(tmp_path / "net.pt"))
    show = load_show(show_with(tmp_path, "", 'path = "net.pt"'))
    generator = make_generator(show, device="cpu")
    assert generator(CTL).pixels.shape == (32, 48, 3)


class NotAnImageNetwork(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(-1, 7)


def test_a_network_that_cannot_take_the_image_is_one_line(tmp_path: Path) -> None:
    torch.jit.script(NotAnImageNetwork()).save(str(tmp_path / "bad.pt"))
    show = load_show(show_with(tmp_path, "", 'path = "bad.pt"'))
    with pytest.raises(ModelError, match=r"bad\.pt: a dream network must take a \(1, 3, 32, "
                                         r"48\) float image") as error:
        make_generator(show, device="cpu")
    assert "\n" not in str(error.value)
