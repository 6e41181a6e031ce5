"""The artist-trained VAE: training reduces the loss, checkpoints round-trip or refuse clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from installation.errors import ModelError
from installation.generator.dataset import DatasetError, load_folder
from installation.generator.factory import make_generator
from installation.generator.stage import CppnGenerator
from installation.generator.train import TrainConfig, train_vae
from installation.generator.vae import FORMAT, Vae, VaeConfig, load_checkpoint, save_checkpoint
from installation.messages import Controls
from installation.show import GeneratorSpec, load_show

TINY = VaeConfig(size=16, latent_dim=4, channels=8)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve real images rendered by our own CPPN (varied seeds and architectures)."""
    folder = tmp_path_factory.mktemp("art")
    for i in range(12):
        arch = ("fourier", "radial", "residual")[i % 3]
        spec = GeneratorSpec(size=(40, 30), seed=100 + i, architecture=arch)
        pixels = CppnGenerator(spec, device="cpu")(Controls(t=0.0, values={})).pixels
        Image.fromarray(pixels).save(folder / f"art_{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def trained(image_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("model") / "model.pt"
    config = TrainConfig(vae=TINY, epochs=30, batch_size=12, learning_rate=1e-2,
                         progress=False, seed=1)
    return train_vae(image_folder, out, config)


def test_training_a_few_steps_reduces_the_loss(trained) -> None:
    losses = trained.losses
    assert len(losses) == 30  # one full-batch step per epoch
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5])


def test_training_saves_a_sample_grid_per_epoch(trained) -> None:
    assert [p.name for p in trained.grids] == [f"epoch_{i:03d}.png" for i in range(1, 31)]
    with Image.open(trained.grids[-1]) as grid:
        assert grid.size == (8 * 16, 4 * 16)  # 16 samples, 8 originals, 8 reconstructions


def test_checkpoint_round_trip_keeps_weights_config_hash_and_version(trained,
                                                                     image_folder: Path) -> None:
    checkpoint = load_checkpoint(trained.checkpoint)
    assert checkpoint.config == TINY
    assert checkpoint.data_hash == load_folder(image_folder, 16)[1] == trained.data_hash
    assert checkpoint.package_version
    assert checkpoint.epochs == 30
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    again = Vae(TINY)
    again.load_state_dict(checkpoint.model.state_dict())
    with torch.inference_mode():
        assert torch.equal(checkpoint.model.decoder(z), again.eval().decoder(z))


def test_data_hash_changes_when_an_image_does(image_folder: Path, tmp_path: Path) -> None:
    for source in image_folder.iterdir():
        (tmp_path / source.name).write_bytes(source.read_bytes())
    before = load_folder(tmp_path, 16)[1]
    Image.new("RGB", (20, 20), (200, 10, 10)).save(tmp_path / "art_00.png")
    assert load_folder(tmp_path, 16)[1] != before


def test_corrupt_checkpoint_is_a_one_line_model_error(trained, tmp_path: Path) -> None:
    data = trained.checkpoint.read_bytes()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"broken\.pt: corrupt or not a checkpoint") as error:
        load_checkpoint(broken)
    assert "\n" not in str(error.value)


def test_foreign_and_future_checkpoints_are_refused(tmp_path: Path) -> None:
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(ModelError, match=r"foreign\.pt: not an installation VAE checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    model = Vae(TINY)
    save_checkpoint(tmp_path / "future.pt", model, "hash", 1)
    payload = torch.load(tmp_path / "future.pt", weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ModelError, match=r"future\.pt: checkpoint format 99 is not supported"):
        load_checkpoint(tmp_path / "future.pt")


def test_weights_that_do_not_fit_the_config_are_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "m.pt", Vae(TINY), "hash", 1)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["format"] == FORMAT
    payload["config"]["latent_dim"] = 5
    torch.save(payload, tmp_path / "m.pt")
    with pytest.raises(ModelError, match=r"m\.pt: incompatible checkpoint") as error:
        load_checkpoint(tmp_path / "m.pt")
    assert "\n" not in str(error.value)


def test_empty_folder_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no images"):
        load_folder(tmp_path, 16)


def write_vae_show(folder: Path, checkpoint: Path, moods: str = "") -> Path:
    (folder / "p.frag").write_text("void main() {}\n")
    show = folder / "show.toml"
    show.write_text(f'[generator]\nmodel = "vae"\npath = "{checkpoint}"\nsize = [48, 32]\n'
                    f'max_step = 10.0\n{moods}\n[[passes]]\nshader = "p.frag"\n')
    return show


def test_vae_decoder_is_the_generator_at_the_show_size(trained, tmp_path: Path) -> None:
    show = load_show(write_vae_show(tmp_path, trained.checkpoint))
    a = make_generator(show, device="cpu")(Controls(t=0.0, values={"calm": 0.0})).pixels.copy()
    b = make_generator(show, device="cpu")(Controls(t=0.0, values={"calm": 1.0})).pixels
    assert a.shape == (32, 48, 3) and a.dtype == np.uint8
    assert np.abs(a.astype(float) - b.astype(float)).mean() > 2


def test_image_mood_goes_through_the_encoder(trained, image_folder: Path,
                                             tmp_path: Path) -> None:
    moods = (f'[[moods]]\nname = "mine"\nposition = [0.5, 0.5]\n'
             f'image = "{image_folder / "art_03.png"}"\n')
    show = load_show(write_vae_show(tmp_path, trained.checkpoint, moods))
    generator = make_generator(show, device="cpu")
    anchor = generator.walk.anchors[0]  # type: ignore[attr-defined]
    checkpoint = load_checkpoint(trained.checkpoint)
    from installation.generator.dataset import load_image

    x = torch.from_numpy(load_image(image_folder / "art_03.png", 16)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        mu, _ = checkpoint.model.encode(x.float() / 255)
    assert torch.allclose(anchor, mu[0], atol=1e-5)
