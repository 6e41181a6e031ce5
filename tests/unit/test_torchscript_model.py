"""Bring your own TorchScript generator: the contract is checked at load, one line per breach."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from installation.errors import ModelError
from installation.generator.factory import make_generator
from installation.generator.models import load_torchscript
from installation.messages import Controls
from installation.show import load_show

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


class TinyGenerator(nn.Module):
    """A real (untrained) conv generator: latent (B, D) -> images (B, 3, 32, 32)."""

    def __init__(self, latent_dim: int = 8, signed: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(latent_dim, 16 * 8 * 8)
        self.up = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.Tanh(),
                                nn.ConvTranspose2d(8, 3, 4, 2, 1))
        self.signed = signed

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.up(torch.sin(3.0 * self.fc(z)).view(-1, 16, 8, 8))
        return torch.tanh(x * 3.0) if self.signed else torch.sigmoid(x * 3.0)


class SignedExtremes(nn.Module):
    """Red at -1, green at +1, blue at 0: where the -1..1 mapping must put 0, 255 and 128."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        rgb = torch.tensor([-1.0, 1.0, 0.0]).view(1, 3, 1, 1)
        return rgb.expand(z.shape[0], 3, 16, 16) + 0.0 * z.sum()


class WrongShape(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.zeros(z.shape[0], 32, 32, 3)


class IntImages(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.zeros(z.shape[0], 3, 32, 32, dtype=torch.uint8)


def save(module: nn.Module, path: Path) -> Path:
    torch.jit.script(module).save(str(path))
    return path


def show_for(tmp_path: Path, model: str, extra: str = "") -> Path:
    (tmp_path / "p.frag").write_text("void main() {}\n")
    show = tmp_path / "show.toml"
    show.write_text(f'[generator]\nmodel = "torchscript"\npath = "{model}"\nsize = [48, 32]\n'
                    f'{extra}\n[[passes]]\nshader = "p.frag"\n')
    return show


def test_scripted_module_generates_images_at_the_show_size(tmp_path: Path) -> None:
    save(TinyGenerator(), tmp_path / "model.pt")
    generator = make_generator(load_show(show_for(tmp_path, "model.pt")), device="cpu")
    a = generator(Controls(t=0.0, values={"calm": 0.0})).pixels.copy()
    assert a.shape == (32, 48, 3) and a.dtype == np.uint8 and a.flags.c_contiguous
    assert a.astype(float).std() > 5
    again = make_generator(load_show(show_for(tmp_path, "model.pt")), device="cpu")
    assert np.array_equal(again(Controls(t=0.0, values={"calm": 0.0})).pixels, a)


def test_controls_change_a_scripted_models_image(tmp_path: Path) -> None:
    save(TinyGenerator(), tmp_path / "model.pt")
    show = load_show(show_for(tmp_path, "model.pt", "max_step = 10.0"))
    calm = make_generator(show, device="cpu")(Controls(t=0.0, values={"calm": 1.0})).pixels
    restless = make_generator(show, device="cpu")(Controls(t=0.0, values={"calm": 0.0})).pixels
    assert np.abs(calm.astype(float) - restless.astype(float)).mean() > 3


def test_signed_output_range_is_mapped_to_the_full_range(tmp_path: Path) -> None:
    save(TinyGenerator(signed=True), tmp_path / "signed.pt")
    with pytest.raises(ModelError, match=r'signed\.pt: values .* outside the declared range '
                                         r'0\.\.1 \(set generator.output_range = "-1\.\.1"\?\)'):
        make_generator(load_show(show_for(tmp_path, "signed.pt")), device="cpu")
    save(SignedExtremes(), tmp_path / "extremes.pt")
    show = load_show(show_for(tmp_path, "extremes.pt", 'output_range = "-1..1"'))
    pixels = make_generator(show, device="cpu")(Controls(t=0.0, values={})).pixels
    assert (pixels.reshape(-1, 3) == [0, 255, 128]).all()


def test_wrong_shape_is_a_one_line_model_error_naming_the_file(tmp_path: Path) -> None:
    path = save(WrongShape(), tmp_path / "wrong.pt")
    with pytest.raises(ModelError, match=r"wrong\.pt: must return images \(B, 3, H, W\) .* "
                                         r"returned shape \(2, 32, 32, 3\)") as error:
        load_torchscript(path, 8)
    assert "\n" not in str(error.value)


def test_integer_images_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"ints\.pt: must return float images"):
        load_torchscript(save(IntImages(), tmp_path / "ints.pt"), 8)


def test_wrong_latent_size_is_a_model_error_naming_the_file(tmp_path: Path) -> None:
    path = save(TinyGenerator(latent_dim=16), tmp_path / "z16.pt")
    with pytest.raises(ModelError, match=r"z16\.pt: forward of a \(2, 8\) float latent batch "
                                         r"failed .*latent_dim") as error:
        load_torchscript(path, 8)
    assert "\n" not in str(error.value)


def test_a_file_that_is_not_torchscript_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.pt"
    path.write_bytes(b"not a zip archive at all")
    with pytest.raises(ModelError, match=r"junk\.pt: not a loadable TorchScript module"):
        load_torchscript(path, 8)


def test_torchscript_model_needs_a_path(tmp_path: Path) -> None:
    from installation.errors import ShowError

    (tmp_path / "p.frag").write_text("void main() {}\n")
    show = tmp_path / "show.toml"
    show.write_text('[generator]\nmodel = "torchscript"\n\n[[passes]]\nshader = "p.frag"\n')
    with pytest.raises(ShowError, match=r"generator: model = 'torchscript' needs path"):
        load_show(show)
