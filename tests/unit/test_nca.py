"""The neural cellular automaton: its target, training, checkpoint and live source."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from installation.errors import ModelError, UserError
from installation.generator.nca import (
    FORMAT_VERSION,
    Nca,
    NcaConfig,
    fire_mask,
    likeness,
    load_checkpoint,
    load_target,
    save_checkpoint,
    seed_state,
)
from installation.generator.nca_source import NcaSource
from installation.generator.train_nca import NcaTrainConfig, recognisability, train_nca
from installation.generator.vae import Vae, VaeConfig
from installation.generator.vae import save_checkpoint as save_vae
from installation.messages import Controls, Status
from installation.show import GeneratorSpec, NcaSpec

REPO = Path(__file__).resolve().parents[2]
PIECE = REPO / "pieces" / "living-image"
PORTRAIT = PIECE / "portrait.png"
MODEL = PIECE / "nca.pt"
TINY = NcaTrainConfig(nca=NcaConfig(size=32, image_size=24, hidden=32), steps=6, batch_size=4,
                      pool_size=16, damaged=1, rollout=(12, 16), progress=False, save_every=3)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nca") / "tiny.pt"
    train_nca(PORTRAIT, out, TINY)
    return out


def test_an_opaque_image_becomes_a_premultiplied_disc_in_a_transparent_grid() -> None:
    target, digest = load_target(PORTRAIT, NcaConfig(size=64, image_size=48))
    assert target.shape == (64, 64, 4) and target.dtype == np.uint8
    alpha = target[..., 3].astype(int)
    assert alpha[32, 32] == 255 and alpha[0, 0] == 0 and alpha[32, 4] == 0  # margin is empty
    assert (alpha[8:56, 8:56] > 0).mean() > 0.7  # a disc fills most of the 48-cell square
    assert np.all(target[..., :3] <= target[..., 3:4])  # premultiplied
    assert len(digest) == 64


def test_an_image_with_transparency_keeps_its_own_alpha(tmp_path: Path) -> None:
    pixels = np.zeros((40, 40, 4), np.uint8)
    pixels[10:30, 5:35] = (200, 40, 40, 255)  # a red bar on transparency
    Image.fromarray(pixels).save(tmp_path / "bar.png")
    target, _ = load_target(tmp_path / "bar.png", NcaConfig(size=32, image_size=32))
    assert target[16, 16, 3] == 255 and target[2, 16, 3] == 0 and target[16, 1, 3] == 0


def test_an_unreadable_image_is_one_line_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "photo.png"
    bad.write_text("not an image")
    with pytest.raises(UserError, match=r"photo\.png: cannot read image"):
        load_target(bad, NcaConfig())


def test_an_untrained_automaton_keeps_its_seed_unchanged() -> None:
    model = Nca(NcaConfig(size=32, image_size=24))  # last layer zero, as in the paper
    state = seed_state(1, model.config, 32, 32)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        after = model(state, fire_mask(state, 0.5, gen))
    assert torch.equal(after, state)


def test_the_update_is_the_papers_two_1x1_convolutions() -> None:
    # update() applies the conv weights as matrix products (faster here); same numbers.
    torch.manual_seed(1)
    model = Nca(NcaConfig(size=32, image_size=24, hidden=24))
    torch.nn.init.normal_(model.out.weight, std=0.1)
    state = torch.rand(2, 16, 32, 20)
    perceived = torch.nn.functional.conv2d(state, model.kernels, padding=1, groups=16)
    expected = model.out(torch.relu(model.hidden(perceived)))
    assert torch.allclose(model.update(state), expected, atol=1e-5)


def _blurred(target: np.ndarray, radius: float) -> np.ndarray:
    from PIL import ImageFilter

    rgb = Image.fromarray(np.ascontiguousarray(target[..., :3]))
    blurred = np.asarray(rgb.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float64)
    return np.round(blurred * target[..., 3:] / 255.0).astype(np.uint8)  # back in the disc


def test_likeness_scores_the_target_highest_and_blur_blobs_and_shuffles_lower() -> None:
    target, _ = load_target(PORTRAIT, NcaConfig(size=64, image_size=48))
    own = likeness(target[..., :3], target)
    assert own["layout"] == pytest.approx(1.0) and own["ssim"] == pytest.approx(1.0)
    assert own["psnr"] >= 99.0
    scores = [likeness(_blurred(target, r), target) for r in (1, 3, 6)]
    for key in ("layout", "ssim", "psnr"):  # more blur, less likeness, on every score
        values = [own[key]] + [s[key] for s in scores]
        assert values == sorted(values, reverse=True) and len(set(values)) == 4, key
    inside = target[..., 3] > 127
    blob = np.zeros_like(target[..., :3])
    blob[inside] = target[..., :3][inside].mean(axis=0).round().astype(np.uint8)
    assert abs(likeness(blob, target)["layout"]) < 0.02  # the right colour is not a face
    shuffled = target[..., :3].reshape(-1, 3)[np.random.default_rng(0).permutation(64 * 64)]
    assert likeness(shuffled.reshape(64, 64, 3), target)["layout"] < 0.2
    assert likeness(target[::-1, :, :3].copy(), target)["layout"] < 0.0  # upside down
    assert likeness(np.zeros_like(blob), target)["layout"] == 0.0  # nothing grown
    with pytest.raises(ValueError, match="differ in size"):
        likeness(blob[:32], target)


def test_likeness_ssim_is_skimages_gaussian_ssim() -> None:
    skimage = pytest.importorskip("skimage.metrics")
    from installation.generator.nca import _ssim_map

    target, _ = load_target(PORTRAIT, NcaConfig(size=64, image_size=48))
    grey = np.array([0.299, 0.587, 0.114])
    a = target[..., :3] @ grey / 255.0
    b = _blurred(target, 2) @ grey / 255.0
    expected = skimage.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                             use_sample_covariance=True, data_range=1.0)
    assert _ssim_map(a, b)[5:-5, 5:-5].mean() == pytest.approx(expected, abs=1e-9)


def test_an_untrained_automaton_is_not_recognisable() -> None:
    model = Nca(NcaConfig(size=32, image_size=24))
    target, _ = load_target(PORTRAIT, model.config)
    score = recognisability(model, target, steps=20)
    assert score["grown"]["layout"] == 0.0 and score["regrown"]["layout"] == 0.0
    assert score["grown"]["psnr"] < 10.0


def test_training_writes_a_checkpoint_with_its_curve_grid_and_step(tiny: Path) -> None:
    checkpoint = load_checkpoint(tiny)
    assert checkpoint.step == 6 and len(checkpoint.losses) == 6
    assert checkpoint.config == TINY.nca
    assert checkpoint.optimiser is not None and checkpoint.train["seed"] == 0
    samples = tiny.with_name("tiny_samples")
    grid = Image.open(samples / "grid.png")
    assert grid.width > 10 * 32 and grid.height > 2 * 32  # two rows of eleven tiles
    assert (samples / "loss.png").stat().st_size > 1000


def test_training_is_deterministic_for_a_seed(tiny: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.pt"
    train_nca(PORTRAIT, again, TINY)
    a, b = load_checkpoint(tiny), load_checkpoint(again)
    assert a.losses == b.losses
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key])


def test_resume_continues_from_the_saved_step(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed.pt"
    out.write_bytes(tiny.read_bytes())
    before = load_checkpoint(out)
    result = train_nca(PORTRAIT, out, replace(TINY, steps=9), resume=True)
    after = load_checkpoint(out)
    assert result.steps_this_run == 3 and after.step == 9
    assert after.losses[:6] == before.losses and len(after.losses) == 9
    moved = [not torch.equal(v, after.model.state_dict()[k])
             for k, v in before.model.state_dict().items()]
    assert any(moved)


def test_resume_refuses_another_image_or_a_missing_checkpoint(tiny: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.png"
    Image.fromarray(np.full((20, 20, 3), 90, np.uint8)).save(other)
    out = tmp_path / "resumed.pt"
    out.write_bytes(tiny.read_bytes())
    with pytest.raises(UserError, match="not the image"):
        train_nca(other, out, replace(TINY, steps=8), resume=True)
    with pytest.raises(UserError, match=r"missing\.pt: --resume needs an existing checkpoint"):
        train_nca(PORTRAIT, tmp_path / "missing.pt", TINY, resume=True)


def one_line_model_error(path: Path) -> str:
    with pytest.raises(ModelError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_truncated_checkpoint_is_one_line_naming_the_file(tiny: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pt"
    cut.write_bytes(tiny.read_bytes()[: tiny.stat().st_size // 2])
    assert "truncated, corrupt or not a checkpoint" in one_line_model_error(cut)


def test_foreign_checkpoints_are_refused_by_name(tmp_path: Path) -> None:
    vae = tmp_path / "vae.pt"
    save_vae(vae, Vae(VaeConfig(size=16, latent_dim=4, channels=4)), "hash", 1)
    assert "not an NCA checkpoint (it is 'installation-vae')" in one_line_model_error(vae)
    plain = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, plain)
    assert "not an NCA checkpoint" in one_line_model_error(plain)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    assert "truncated, corrupt or not a checkpoint" in one_line_model_error(text)
    assert "model file not found" in one_line_model_error(tmp_path / "absent.pt")


def test_mismatched_and_future_checkpoints_are_refused(tiny: Path, tmp_path: Path) -> None:
    payload = torch.load(tiny, weights_only=True)
    payload["config"]["hidden"] = 48  # the weights are for 32
    torch.save(payload, tmp_path / "mismatch.pt")
    assert "incompatible NCA checkpoint" in one_line_model_error(tmp_path / "mismatch.pt")
    payload = torch.load(tiny, weights_only=True)
    payload["target"] = torch.zeros(10, 10, 4, dtype=torch.uint8)
    torch.save(payload, tmp_path / "target.pt")
    assert "does not fit size 32" in one_line_model_error(tmp_path / "target.pt")
    payload = torch.load(tiny, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    torch.save(payload, tmp_path / "future.pt")
    assert "format 2 is not supported" in one_line_model_error(tmp_path / "future.pt")


def test_non_finite_weights_are_refused(tiny: Path, tmp_path: Path) -> None:
    checkpoint = load_checkpoint(tiny)
    model = checkpoint.model
    with torch.no_grad():
        model.out.weight[0, 0] = float("nan")
    save_checkpoint(tmp_path / "nan.pt", model, checkpoint.target, "h", 1, [1.0], None, {})
    assert "NaN or inf" in one_line_model_error(tmp_path / "nan.pt")


# -- the live source, with the piece's trained automaton -------------------------------------

def source(size: tuple[int, int] = (72, 40), **nca: object) -> NcaSource:
    # The piece's pace: 2 steps per image, no rebirth by age unless asked.
    settings = {"steps_per_image": 2, "lifespan_steps": 0, **nca}
    spec = GeneratorSpec(model="nca", path=MODEL, size=size, seed=3,
                         nca=replace(NcaSpec(), **settings))
    return NcaSource(spec, torch.device("cpu"))


def controls(t: float, present: bool = True, **values: float) -> Controls:
    status = Status.OK if present else Status.LOST
    return Controls(t=t, values=values, stream_status={"ecg": status, "state": status})


def run(src: NcaSource, images: int, t0: float = 0.0, **kw: object) -> tuple[float, np.ndarray]:
    image = None
    for i in range(images):
        image = src.render_controls(torch.zeros(1), controls(t0 + i / 15.0, **kw))
    assert image is not None
    return t0 + images / 15.0, image.numpy().copy()


def error(image: np.ndarray, target: np.ndarray, size: tuple[int, int]) -> float:
    """Mean absolute difference (0..255) from the target, over the trained square."""
    w, h = size
    s = target.shape[0]
    top, left = (h - s) // 2, (w - s) // 2
    crop = image[top:top + s, left:left + s]
    return float(np.abs(crop * 255.0 - target[..., :3].astype(np.float32)).mean())


def test_the_piece_grows_its_image_from_a_seed() -> None:
    src = source()
    target = src.checkpoint.target
    t, first = run(src, 1)
    _, grown = run(src, 90, t0=t, present=False)  # 6 s, nobody there
    assert error(first, target, src.size) > 1.5 * error(grown, target, src.size)
    assert error(grown, target, src.size) < 30.0


def test_a_beat_wounds_the_image_and_it_heals_when_the_visitor_leaves() -> None:
    src = source()
    target = src.checkpoint.target
    t, healthy = run(src, 60, present=False)
    # The visitor is there, aroused: the pulse jumps at a beat.
    src.render_controls(torch.zeros(1), controls(t, pulse=0.1, arousal=1.0, calm=0.0))
    wounded = src.render_controls(torch.zeros(1),
                                  controls(t + 1 / 15, pulse=1.0, arousal=1.0, calm=0.0))
    wounded = wounded.numpy().copy()
    assert src.wounds == 1
    change = float(np.abs(wounded - healthy).mean() * 255.0)
    assert change > 3.0  # grey levels over the whole image, margins included
    assert error(wounded, target, src.size) > error(healthy, target, src.size) + 1.5
    # They leave: no more wounds; the portrait grows back whole from one cell.
    _, healed = run(src, 60, t0=t + 2 / 15, present=False, pulse=1.0)
    assert src.wounds == 1 and src.rebirths == 1
    assert error(healed, target, src.size) < error(healthy, target, src.size) + 3.0


def test_an_old_colony_is_grown_afresh_after_its_lifespan() -> None:
    src = source(lifespan_steps=100)
    run(src, 49, present=False)  # 98 full-rate steps
    assert src.rebirths == 0
    run(src, 3, t0=49 / 15, present=False)
    assert src.rebirths == 1 and src.age < 10


def test_no_wounds_without_a_visitor_and_none_between_beats() -> None:
    src = source()
    run(src, 10, present=False, pulse=1.0)
    assert src.wounds == 0
    t = 0.0
    for i, pulse in enumerate([0.0, 0.9, 0.7, 0.5, 0.3, 1.0, 0.8]):
        t = i / 15.0
        src.render_controls(torch.zeros(1), controls(t, pulse=pulse))
    assert src.wounds == 2  # two rises of at least wound_rise, not every image


def test_calm_sets_how_fast_a_wound_grows_back() -> None:
    def regrowth(calm: float) -> float:
        src = source()
        t, _ = run(src, 60, present=False)
        src.wound(0.6)
        _, image = run(src, 8, t0=t, calm=calm, arousal=0.0)
        return error(image, src.checkpoint.target, src.size)

    assert regrowth(calm=1.0) < regrowth(calm=0.0) - 1.0


def test_the_source_is_deterministic_for_its_seed() -> None:
    def images() -> list[bytes]:
        src = source()
        out = []
        for i in range(40):
            pulse = 1.0 if i % 10 == 0 else 0.0
            out.append(src.render_controls(
                torch.zeros(1), controls(i / 15, pulse=pulse, arousal=0.7)).numpy().tobytes())
        return out

    assert images() == images()


def test_a_colony_that_dies_out_grows_again_from_a_seed() -> None:
    src = source()
    t, _ = run(src, 30, present=False)
    src.wound(5.0)  # a wound larger than the image kills every cell
    t, image = run(src, 1, t0=t, present=False)
    assert src.reseeds == 1
    _, image = run(src, 90, t0=t, present=False)
    assert error(image, src.checkpoint.target, src.size) < 30.0


def test_a_seek_backwards_starts_growing_afresh() -> None:
    src = source()
    run(src, 30, t0=10.0, present=False)
    fresh = source()
    a = src.render_controls(torch.zeros(1), controls(0.0, present=False)).numpy()
    b = fresh.render_controls(torch.zeros(1), controls(0.0, present=False)).numpy()
    assert np.array_equal(a, b)


def test_a_grid_smaller_than_the_trained_one_is_refused() -> None:
    with pytest.raises(ModelError, match=r"generator\.size 32x32 must be at least that"):
        source(size=(32, 32))
