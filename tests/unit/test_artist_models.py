"""Models the artist brings: ONNX sources, ONNX and TorchScript image-to-image stages, each
contract checked at load with one line naming the file. The ONNX files are exported here,
from small real torch modules, with ``torch.onnx.export``."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from installation.errors import ModelError
from installation.generator.factory import make_generator
from installation.messages import Controls
from installation.show import load_show

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")  # torch.onnx.export writes through it
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore:`torch.jit.script` is deprecated")
CTL = Controls(t=0.0, values={"calm": 0.3})


class LatentToImage(nn.Module):
    def __init__(self, latent_dim: int = 8, out: int = 24, signed: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(latent_dim, 3 * 6 * 6)
        self.out = out
        self.signed = signed

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.sin(3.0 * self.fc(z)).view(-1, 3, 6, 6)
        x = nn.functional.interpolate(x, size=(self.out, self.out), mode="bilinear")
        return x if self.signed else x * 0.5 + 0.5


class Style(nn.Module):
    """An image-to-image conv net: a stand-in for a fast style-transfer network."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Tanh(),
                                 nn.Conv2d(8, 3, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x) * 2.0 + (x - 0.5) * 4.0)


class Shrinks(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::2, ::2]


class Overflows(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 4.0


def export(module: nn.Module, example: torch.Tensor, path: Path, dynamic: bool = False) -> Path:
    axes = {"x": {0: "batch"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), str(path), input_names=["x"],
                          output_names=["y"], dynamic_axes=axes, dynamo=False)
    return path


def show(folder: Path, generator: str, stages: str = "") -> Path:
    (folder / "p.frag").write_text("void main() {}\n")
    path = folder / "show.toml"
    path.write_text(f"[generator]\nsize = [48, 32]\nmax_step = 10.0\n{generator}\n{stages}\n"
                    '[[passes]]\nshader = "p.frag"\n')
    return path


def test_an_onnx_source_generates_at_the_show_size(tmp_path: Path) -> None:
    export(LatentToImage(), torch.zeros(1, 8), tmp_path / "gen.onnx")
    spec = 'model = "onnx"\npath = "gen.onnx"\nlatent_dim = 8\n'
    generator = make_generator(load_show(show(tmp_path, spec)), device="cpu")
    calm = generator(Controls(t=0.0, values={"calm": 1.0})).pixels.copy()
    again = make_generator(load_show(show(tmp_path, spec)), device="cpu")
    restless = again(Controls(t=0.0, values={"calm": 0.0})).pixels
    assert calm.shape == (32, 48, 3) and calm.dtype == np.uint8
    assert np.abs(calm.astype(float) - restless.astype(float)).mean() > 3
    # The same latent through torch and through ONNX Runtime gives the same picture.
    with torch.no_grad():
        z = generator.latent[None]
        reference = LatentToImage()(z)
    session = generator.model.session  # type: ignore[attr-defined]
    assert torch.allclose(session.run(z), reference, atol=1e-5)


def test_an_onnx_source_with_the_wrong_latent_size_is_one_line(tmp_path: Path) -> None:
    export(LatentToImage(latent_dim=16), torch.zeros(1, 16), tmp_path / "z16.onnx")
    path = show(tmp_path, 'model = "onnx"\npath = "z16.onnx"\nlatent_dim = 8\n')
    with pytest.raises(ModelError, match=r"z16\.onnx: takes latents of 16 values, but "
                                         r"generator\.latent_dim = 8") as error:
        make_generator(load_show(path), device="cpu")
    assert "\n" not in str(error.value)


def test_a_signed_onnx_source_needs_its_range_declared(tmp_path: Path) -> None:
    export(LatentToImage(signed=True), torch.zeros(1, 8), tmp_path / "signed.onnx")
    spec = 'model = "onnx"\npath = "signed.onnx"\nlatent_dim = 8\n'
    with pytest.raises(ModelError, match=r'signed\.onnx: values .* outside the declared range '
                                         r'0\.\.1 \(set generator\.output_range = "-1\.\.1"\?\)'):
        make_generator(load_show(show(tmp_path, spec)), device="cpu")
    make_generator(load_show(show(tmp_path, spec + 'output_range = "-1..1"\n')), device="cpu")


def test_a_file_that_is_not_onnx_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07 not a protobuf at all")
    path = show(tmp_path, 'model = "onnx"\npath = "junk.onnx"\nlatent_dim = 8\n')
    with pytest.raises(ModelError, match=r"junk\.onnx: not a loadable ONNX model") as error:
        make_generator(load_show(path), device="cpu")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("kind", ["onnx", "torchscript"])
def test_an_image_to_image_stage_restyles_the_generated_image(tmp_path: Path,
                                                              kind: str) -> None:
    if kind == "onnx":
        export(Style(), torch.zeros(1, 3, 32, 48), tmp_path / "style.onnx")
        name = "style.onnx"
    else:
        torch.jit.script(Style()).save(str(tmp_path / "style.pt"))
        name = "style.pt"
    plain = make_generator(load_show(show(tmp_path, "")), device="cpu")(CTL).pixels.copy()
    stage = f'[[generator.stages]]\nkind = "model"\npath = "{name}"\n'
    styled_chain = make_generator(load_show(show(tmp_path, "", stage)), device="cpu")
    styled = styled_chain(CTL).pixels
    with torch.no_grad():
        x = torch.from_numpy(plain).permute(2, 0, 1)[None].float() / 255
        expected = (Style()(x)[0].permute(1, 2, 0).numpy() * 255)
    assert np.abs(styled.astype(float) - expected).max() <= 2.0  # 8-bit rounding of the input
    assert np.abs(styled.astype(float) - plain.astype(float)).mean() > 5
    half = make_generator(load_show(show(tmp_path, "", stage + "mix = 0.5\n")), device="cpu")
    mixed = half(CTL).pixels.astype(float)
    assert np.abs(mixed - (styled.astype(float) + plain) / 2).max() <= 2.0


@pytest.mark.parametrize(("module", "pattern"), [
    (Shrinks(), r"must return images of the size it is given \(32, 48\), returned \(16, 24\)"),
    (Overflows(), r'values .* outside the declared range 0\.\.1'),
])
@pytest.mark.parametrize("kind", ["onnx", "torchscript"])
def test_image_stage_contract_breaches_are_one_line(tmp_path: Path, kind: str, module: nn.Module,
                                                    pattern: str) -> None:
    if kind == "onnx":
        path = export(module, torch.zeros(1, 3, 32, 48), tmp_path / "bad.onnx")
    else:
        path = tmp_path / "bad.pt"
        torch.jit.script(module).save(str(path))
    stage = f'[[generator.stages]]\nkind = "model"\npath = "{path.name}"\n'
    with pytest.raises(ModelError, match=rf"bad\.(onnx|pt): {pattern}") as error:
        make_generator(load_show(show(tmp_path, "", stage)), device="cpu")
    assert "\n" not in str(error.value)


def test_an_onnx_stage_made_for_another_size_is_one_line(tmp_path: Path) -> None:
    export(Style(), torch.zeros(1, 3, 64, 64), tmp_path / "square.onnx")
    stage = '[[generator.stages]]\nkind = "model"\npath = "square.onnx"\n'
    with pytest.raises(ModelError, match=r"square\.onnx: takes images of 64 height, the "
                                         r"generator makes 32 \(generator\.size = \[48, 32\]\)"):
        make_generator(load_show(show(tmp_path, "", stage)), device="cpu")


def test_without_onnxruntime_the_message_names_the_extra(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    export(LatentToImage(), torch.zeros(1, 8), tmp_path / "gen.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now raises ImportError
    path = show(tmp_path, 'model = "onnx"\npath = "gen.onnx"\nlatent_dim = 8\n')
    with pytest.raises(ModelError, match=r"ONNX models need the onnx extra: pip install"):
        make_generator(load_show(path), device="cpu")
