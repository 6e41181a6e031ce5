"""The few-shot GAN: real (tiny) training, exact resume, checkpoints that load or refuse in one
line, the GAN in a show with its latent walk and image moods."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from installation.errors import ModelError
from installation.generator.diffaug import diff_augment
from installation.generator.factory import make_generator
from installation.generator.gan import (
    FASTGAN_FORMAT_2,
    DcganDiscriminator,
    DcganGenerator,
    Discriminator,
    GanConfig,
    Generator,
    build_generator,
    load_gan,
)
from installation.generator.gan_train import (
    FASTGAN_FORMAT_2_TRAINING,
    GanTrainConfig,
    train_gan,
)
from installation.generator.project import GanProjector
from installation.generator.quality import make_shapes
from installation.generator.vae import Vae, VaeConfig, save_checkpoint
from installation.messages import Controls
from installation.show import load_show

TINY = GanConfig(size=32, latent_dim=8, channels=4, d_channels=4)
CONFIG = GanTrainConfig(gan=TINY, steps=4, batch_size=4, every=2, progress=False, seed=3)
# Format 2's FastGAN, trained as format 2 did.
TINY_FASTGAN = replace(TINY, **{**FASTGAN_FORMAT_2, "channels": 4, "d_channels": 4})
FASTGAN = replace(CONFIG, gan=TINY_FASTGAN,
                  **{**FASTGAN_FORMAT_2_TRAINING, "batch_size": 4})


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shapes")
    make_shapes(folder, count=12, size=32, seed=5)
    return folder


@pytest.fixture(scope="module")
def trained(shapes: Path, tmp_path_factory: pytest.TempPathFactory):
    return train_gan(shapes, tmp_path_factory.mktemp("gan") / "gan.pt", CONFIG)


def weights(path: Path) -> dict[str, torch.Tensor]:
    payload = torch.load(path, weights_only=True)
    return {**{f"ema.{k}": v for k, v in payload["generator"].items()},
            **{f"d.{k}": v for k, v in payload["training"]["discriminator"].items()}}


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_generator_and_discriminator_shapes_at_every_size(size: int) -> None:
    config = GanConfig(size=size, latent_dim=8, channels=2, d_channels=2)
    fastgan = replace(config, **{**FASTGAN_FORMAT_2, "channels": 2, "d_channels": 2})
    with torch.no_grad():
        images = DcganGenerator(config)(torch.randn(2, 8))
        logit, *none = DcganDiscriminator(config)(images)
        fast = Generator(fastgan)(torch.randn(2, 8))
        logits, rec_all, rec_part = Discriminator(fastgan)(fast, part=3)
        old = Discriminator(replace(fastgan, d_norm="batch", decoders=True))(fast, part=3)
    assert images.shape == fast.shape == (2, 3, size, size)
    assert float(images.abs().max()) <= 1.0 and float(fast.abs().max()) <= 1.0
    assert logit.shape == (2, 1, 1, 1) and none == [None, None]  # DCGAN: one logit per image
    assert logits.shape[:2] == (2, 1) and rec_all is None and rec_part is None
    # Format 1's discriminator: BatchNorm and the two reconstruction decoders.
    assert old[0].shape == logits.shape and old[1] is not None and old[2] is not None
    assert old[1].shape == old[2].shape == (2, 3, min(size // 2, 64), min(size // 2, 64))


def test_the_dcgan_is_the_default_and_refuses_fastgans_decoders() -> None:
    assert GanConfig().arch == "dcgan" and isinstance(build_generator(TINY), DcganGenerator)
    assert isinstance(build_generator(TINY_FASTGAN), Generator)
    with pytest.raises(ValueError, match="decoders are FastGAN's"):
        GanConfig(decoders=True)
    with pytest.raises(ValueError, match="arch must be 'dcgan' or 'fastgan', got 'vit'"):
        GanConfig(arch="vit")


def test_a_format_1_checkpoint_loads_and_resumes_with_its_own_discriminator(
        shapes: Path, tmp_path: Path) -> None:
    old = replace(FASTGAN, gan=replace(TINY_FASTGAN, d_norm="batch", decoders=True), steps=2)
    path = tmp_path / "v1.pt"
    train_gan(shapes, path, old)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 1  # as format 1 wrote it: no arch, d_norm or decoders
    for key in ("arch", "d_norm", "decoders"):
        del payload["config"][key]
    torch.save(payload, path)
    checkpoint = load_gan(path)
    assert checkpoint.config.arch == "fastgan"
    assert checkpoint.config.d_norm == "batch" and checkpoint.config.decoders
    resumed = train_gan(shapes, path, replace(CONFIG, steps=3, resume=True))
    assert resumed.step == 3 and load_gan(path).config == old.gan
    assert torch.load(path, weights_only=True)["format_version"] == 3


def test_a_format_2_fastgan_resumes_with_the_recipe_it_was_trained_with(
        shapes: Path, tmp_path: Path) -> None:
    path = tmp_path / "v2.pt"
    train_gan(shapes, path, replace(FASTGAN, steps=2))
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 2  # as format 2 wrote it: no arch, and fewer settings saved
    del payload["config"]["arch"]
    for key in ("d_learning_rate", "real_label", "loss"):
        del payload["training"]["settings"][key]
    torch.save(payload, path)
    assert load_gan(path).config == TINY_FASTGAN
    # Resumed with today's (DCGAN) defaults asked for, it goes on with format 2's recipe.
    train_gan(shapes, path, replace(CONFIG, steps=3, resume=True))
    settings = torch.load(path, weights_only=True)["training"]["settings"]
    assert settings["loss"] == "hinge" and settings["policy"] == "color,translation"
    assert settings["real_label"] == 1.0 and settings["learning_rate"] == 1e-3
    assert load_gan(path).step == 3


def test_training_writes_grids_and_a_checkpoint_every_n_steps(trained) -> None:
    assert trained.step == 4 and trained.steps_run == 4
    assert [g.name for g in trained.grids] == ["step_000002.png", "step_000004.png"]
    with Image.open(trained.grids[-1]) as grid:
        assert grid.size == (8 * 32, 4 * 32)
    checkpoint = load_gan(trained.checkpoint)
    assert checkpoint.step == 4 and checkpoint.config == TINY
    assert checkpoint.data_hash == trained.data_hash
    assert all(np.isfinite(trained.losses_d)) and all(np.isfinite(trained.losses_g))


def test_training_changes_the_weights_and_the_ema_lags_the_generator(trained) -> None:
    payload = torch.load(trained.checkpoint, weights_only=True)
    torch.manual_seed(CONFIG.seed)
    fresh = build_generator(TINY).state_dict()
    raw, ema = payload["training"]["generator"], payload["training"]["ema"]
    key = "net.0.weight"  # the latent's transposed conv
    assert not torch.equal(raw[key], fresh[key])
    assert not torch.equal(ema[key], raw[key])  # an average, not a copy


def test_same_seed_same_model(shapes: Path, trained, tmp_path: Path) -> None:
    again = train_gan(shapes, tmp_path / "again.pt", CONFIG)
    a, b = weights(trained.checkpoint), weights(again.checkpoint)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_from_the_saved_step_exactly(shapes: Path, trained,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "resumed.pt"
    half = train_gan(shapes, path, replace(CONFIG, steps=2))
    assert half.step == 2
    resumed = train_gan(shapes, path, replace(CONFIG, steps=4, resume=True))
    assert resumed.step == 4 and resumed.steps_run == 2
    assert load_gan(path).step == 4
    # Stopped at 2 and resumed to 4 == one run to 4: weights, EMA and random stream restored.
    a, b = weights(trained.checkpoint), weights(path)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_without_a_checkpoint_is_one_line(shapes: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"none\.pt: nothing to resume"):
        train_gan(shapes, tmp_path / "none.pt", replace(CONFIG, resume=True))


def test_truncated_foreign_and_mismatched_checkpoints_are_refused(trained,
                                                                  tmp_path: Path) -> None:
    data = trained.checkpoint.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 3])
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    save_checkpoint(tmp_path / "vae.pt", Vae(VaeConfig(size=16, latent_dim=4, channels=4)),
                    "h", 1)
    payload = torch.load(trained.checkpoint, weights_only=True)
    payload["config"]["channels"] = 8
    torch.save(payload, tmp_path / "mismatch.pt")
    payload["config"]["channels"] = 4
    payload["format_version"] = 7
    torch.save(payload, tmp_path / "future.pt")
    cases = {
        "cut.pt": r"cut\.pt: corrupt or not a checkpoint",
        "foreign.pt": r"foreign\.pt: not an installation GAN checkpoint",
        "vae.pt": r"vae\.pt: not an installation GAN checkpoint \(it is an installation-vae",
        "mismatch.pt": r"mismatch\.pt: incompatible GAN checkpoint",
        "future.pt": r"future\.pt: GAN checkpoint format 7 is not supported \(this version "
                     r"reads 1 to 3\); retrain or upgrade",
        "missing.pt": r"missing\.pt: model file not found",
    }
    for name, pattern in cases.items():
        with pytest.raises(ModelError, match=pattern) as error:
            load_gan(tmp_path / name)
        assert "\n" not in str(error.value)


def test_diff_augment_is_seeded_and_keeps_the_shape() -> None:
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    policy = "color,translation,cutout"
    a = diff_augment(x, policy, torch.Generator().manual_seed(1))
    b = diff_augment(x, policy, torch.Generator().manual_seed(1))
    c = diff_augment(x, policy, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    # Differentiable: the generator learns through the augmentation.
    y = x.clone().requires_grad_(True)
    diff_augment(y, policy, torch.Generator().manual_seed(1)).sum().backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0


def test_colour_keys_each_apply_one_transform_and_color_stays_the_trio() -> None:
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    seeded = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    trio = diff_augment(x, "color", seeded())
    assert torch.equal(trio, diff_augment(x, "brightness,saturation,contrast", seeded()))
    bright = diff_augment(x, "brightness", seeded())
    # Brightness adds one offset per image; saturation keeps each pixel's grey; contrast keeps
    # each image's mean: each key is its own transform, not the trio.
    offset = bright - x
    assert torch.allclose(offset, offset[:, :1, :1, :1].expand_as(offset), atol=1e-6)
    sat = diff_augment(x, "saturation", seeded())
    assert torch.allclose(sat.mean(dim=1), x.mean(dim=1), atol=1e-5)
    con = diff_augment(x, "contrast", seeded())
    assert torch.allclose(con.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-5)
    assert not torch.equal(sat, con) and not torch.equal(bright, trio)
    assert torch.equal(diff_augment(x, "", seeded()), x)
    with pytest.raises(ValueError, match="unknown DiffAugment policy key 'bright' "):
        diff_augment(x, "bright,translation", seeded())


def gan_show(folder: Path, checkpoint: Path, extra: str = "") -> Path:
    (folder / "p.frag").write_text("void main() {}\n")
    show = folder / "show.toml"
    show.write_text(f'[generator]\nmodel = "gan"\npath = "{checkpoint}"\nsize = [48, 32]\n'
                    f"max_step = 10.0\nimage_steps = 20\n{extra}\n"
                    '[[passes]]\nshader = "p.frag"\n')
    return show


def test_the_gan_is_the_generator_and_the_walk_moves_it(trained, tmp_path: Path) -> None:
    show = load_show(gan_show(tmp_path, trained.checkpoint))
    generator = make_generator(show, device="cpu")
    assert generator.model.latent_dim == TINY.latent_dim
    calm = generator(Controls(t=0.0, values={"calm": 1.0})).pixels.copy()
    restless = make_generator(show, device="cpu")(Controls(t=0.0, values={"calm": 0.0})).pixels
    assert calm.shape == (32, 48, 3) and calm.dtype == np.uint8
    assert np.abs(calm.astype(float) - restless.astype(float)).mean() > 1


def test_an_image_mood_is_the_projected_latent_of_that_image(trained, shapes: Path,
                                                             tmp_path: Path) -> None:
    target = sorted(shapes.iterdir())[0]
    show = load_show(gan_show(tmp_path, trained.checkpoint,
                              f'[[moods]]\nname = "mine"\nposition = [0.5, 0.5]\n'
                              f'image = "{target}"\n'))
    anchor = make_generator(show, device="cpu").walk.anchors[0]  # type: ignore[attr-defined]
    again = make_generator(show, device="cpu").walk.anchors[0]  # type: ignore[attr-defined]
    assert torch.equal(anchor, again)  # seeded: the same image gives the same anchor
    assert float(anchor.norm()) <= 1.5 * TINY.latent_dim ** 0.5 + 1e-4  # bounded
    generator = load_gan(trained.checkpoint).generator
    projector = GanProjector(generator, 32, steps=20)
    pixels = projector.target(target)
    with torch.no_grad():
        projected = float((generator(anchor[None]) - pixels).abs().mean())
        seeded = torch.randn(16, TINY.latent_dim, generator=torch.Generator().manual_seed(99))
        random = float((generator(seeded) - pixels).abs().mean())
    assert projected < random  # closer to the picture than the prior's average latent


def test_a_plain_discriminator_with_lazy_r1_trains_and_is_seeded(shapes: Path,
                                                                 tmp_path: Path) -> None:
    plain = replace(CONFIG, gan=replace(TINY, d_norm="none"), steps=2, r1=0.1, r1_every=2)
    a = train_gan(shapes, tmp_path / "a.pt", plain)
    b = train_gan(shapes, tmp_path / "b.pt", plain)
    c = train_gan(shapes, tmp_path / "c.pt", replace(plain, r1=0.0))
    assert all(np.isfinite(a.losses_d))
    wa, wb, wc = weights(a.checkpoint), weights(b.checkpoint), weights(c.checkpoint)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)  # the penalty was applied


def test_two_discriminator_steps_per_generator_step_are_seeded(shapes: Path,
                                                                tmp_path: Path) -> None:
    twice = replace(CONFIG, steps=2, d_steps=2)
    a = train_gan(shapes, tmp_path / "a.pt", twice)
    b = train_gan(shapes, tmp_path / "b.pt", twice)
    c = train_gan(shapes, tmp_path / "c.pt", replace(twice, d_steps=1))
    assert a.step == 2 and all(np.isfinite(a.losses_d))
    training = torch.load(a.checkpoint, weights_only=True)["training"]
    # Adam counts its updates: the discriminator's are twice the generator's.
    d_updates = {float(s["step"]) for s in training["opt_d"]["state"].values()}
    g_updates = {float(s["step"]) for s in training["opt_g"]["state"].values()}
    assert d_updates == {4.0} and g_updates == {2.0}
    wa, wb, wc = weights(a.checkpoint), weights(b.checkpoint), weights(c.checkpoint)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_the_non_saturating_loss_trains_is_seeded_and_differs_from_the_hinge(
        shapes: Path, tmp_path: Path) -> None:
    ns = replace(CONFIG, steps=2, loss="ns")
    a = train_gan(shapes, tmp_path / "a.pt", ns)
    b = train_gan(shapes, tmp_path / "b.pt", ns)
    c = train_gan(shapes, tmp_path / "c.pt", replace(ns, loss="hinge"))
    d = train_gan(shapes, tmp_path / "d.pt", replace(ns, real_label=1.0))
    # Binary cross-entropy terms: positive, and log 2 each at a logit of 0.
    assert all(np.isfinite(a.losses_d)) and all(d > 0 for d in a.losses_d)
    assert all(g > 0 for g in a.losses_g)
    wa, wb, wc = weights(a.checkpoint), weights(b.checkpoint), weights(c.checkpoint)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    wd = weights(d.checkpoint)  # the smoothed real label changes what D learns
    assert not all(torch.equal(wa[k], wd[k]) for k in wa)
    with pytest.raises(ValueError, match="loss must be 'hinge' or 'ns', got 'wgan'"):
        replace(ns, loss="wgan")
    with pytest.raises(ValueError, match=r"real_label must be in \(0\.5, 1\], got 0\.2"):
        replace(ns, real_label=0.2)
