"""The CPPN family chosen in show.toml, and the allocation-free output path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from installation.errors import ShowError
from installation.generator.cppn import Cppn
from installation.generator.names import ACTIVATION_NAMES, ARCHITECTURES
from installation.generator.output import FrameBuffers
from installation.generator.stage import CppnGenerator
from installation.messages import Controls
from installation.show import GeneratorSpec, load_show


def render(**spec: object) -> np.ndarray:
    generator = CppnGenerator(GeneratorSpec(size=(64, 36), seed=3, **spec), device="cpu")
    return generator(Controls(t=1.0, values={})).pixels.copy()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("activations", [("tanh", "sin", "tanh", "sin", "softsign"),
                                         ("sin", "gauss"), ("cos", "abs", "tanh")])
def test_every_architecture_gives_rich_images_not_a_gradient(
    architecture: str, activations: tuple[str, ...]
) -> None:
    pixels = render(architecture=architecture, activations=activations)
    assert pixels.astype(float).std(axis=(0, 1)).mean() > 20
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500


def test_architectures_are_different_pictures_of_the_same_seed() -> None:
    images = [render(architecture=a).astype(float) for a in ARCHITECTURES]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert np.abs(images[i] - images[j]).mean() > 15


def test_activations_change_the_picture() -> None:
    a = render(activations=("sin", "gauss")).astype(float)
    b = render(activations=("tanh", "softsign")).astype(float)
    assert np.abs(a - b).mean() > 15


def test_default_options_reproduce_the_original_default_network() -> None:
    # The default look is the golden images' identity: explicit defaults change nothing.
    default = Cppn(8, 32, 5, 2.0, seed=7)
    explicit = Cppn(8, 32, 5, 2.0, seed=7, architecture="fourier",
                    activations=("tanh", "sin", "tanh", "sin", "softsign"))
    for (name, a), (_, b) in zip(default.state_dict().items(), explicit.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name
    assert render().tobytes() == render(architecture="fourier").tobytes()


def test_cppn_is_resolution_independent() -> None:
    # The same pattern at twice the resolution: subsampling it gives nearly the same image.
    small = CppnGenerator(GeneratorSpec(size=(64, 64), seed=5, architecture="radial"),
                          device="cpu")(Controls(t=1.0, values={})).pixels.astype(float)
    large = CppnGenerator(GeneratorSpec(size=(127, 127), seed=5, architecture="radial"),
                          device="cpu")(Controls(t=1.0, values={})).pixels.astype(float)
    assert np.abs(large[::2, ::2] - small).mean() < 12


def test_unknown_activation_is_a_one_line_show_error_naming_the_key(tmp_path) -> None:
    show = tmp_path / "show.toml"
    (tmp_path / "p.frag").write_text("void main() {}\n")
    show.write_text('[generator]\nactivations = ["sin", "wobble"]\n\n'
                    '[[passes]]\nshader = "p.frag"\n')
    with pytest.raises(ShowError, match=r"show.toml:1: generator: activations: unknown"
                                        r" \['wobble'\]") as error:
        load_show(show)
    assert "\n" not in str(error.value)
    assert all(name in str(error.value) for name in ACTIVATION_NAMES)


def test_images_alternate_between_two_reused_buffers() -> None:
    generator = CppnGenerator(GeneratorSpec(size=(32, 16)), device="cpu")
    a, b, c = (generator(Controls(t=t, values={})) for t in (0.0, 1.0, 2.0))
    assert a.pixels is not b.pixels  # the image handed out survives the next call
    assert c.pixels is a.pixels  # ... and its buffer is reused the call after
    assert a.pixels.flags.c_contiguous and a.pixels.dtype == np.uint8


def test_steady_state_output_allocates_no_new_image_memory() -> None:
    generator = CppnGenerator(GeneratorSpec(size=(32, 16)), device="cpu")
    addresses = {generator(Controls(t=t / 10, values={})).pixels.ctypes.data for t in range(8)}
    assert len(addresses) == 2


def test_frame_buffers_quantise_like_rounding() -> None:
    buffers = FrameBuffers(4, 2, torch.device("cpu"), torch.float32)
    rgb = torch.tensor([0.0, 0.5 / 255, 0.49 / 255, 1.0, 1.2, -0.1]).repeat(4)[:24].view(2, 4, 3)
    out = buffers.write(rgb, 1)
    expected = np.clip(np.floor(rgb.numpy() * 255 + 0.5), 0, 255).astype(np.uint8)
    assert np.array_equal(out, expected)
    assert out is buffers.arrays[1]
