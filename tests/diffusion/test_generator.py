"""The diffusion model as a generator source (txt2img) and stage (img2img) of the generator
chain, loaded from a folder exactly as an artist's sd-turbo would be."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from installation.errors import ShowError
from installation.generator.chain import GeneratorChain, GuardedStage
from installation.generator.diffusion.source import DiffusionSource
from installation.generator.diffusion.stage import DiffusionStage
from installation.generator.factory import make_generator
from installation.messages import Controls
from installation.show import load_show
from tests.diffusion.conftest import write_show

STILL = {"calm": 1.0, "energy": 0.1}
STORM = {"calm": 0.0, "energy": 1.0}


def ctl(t: float = 0.0, **values: float) -> Controls:
    return Controls(t=t, values=values)


def generator(tmp_path: Path, tiny_model, **show) -> GeneratorChain:
    gen = make_generator(load_show(write_show(tmp_path, tiny_model.pipe, **show)), device="cpu")
    assert isinstance(gen, GeneratorChain)
    return gen


def stage_table(settings: str = "") -> str:
    """A ``[[generator.stages]] kind = "diffusion"`` entry (after the [generator] keys)."""
    return f'[[generator.stages]]\nkind = "diffusion"\n{settings}'


def image(gen, **values: float) -> np.ndarray:
    return gen(ctl(**values)).pixels.copy()


def test_a_pipeline_folder_loads_offline_and_paints_the_blended_prompt(tmp_path, tiny_model):
    gen = generator(tmp_path, tiny_model)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert isinstance(gen.model, DiffusionSource) and gen.stages == []
    pixels = image(gen, **STILL)
    assert pixels.shape == (32, 48, 3) and pixels.dtype == np.uint8
    assert gen.model.latent_dim == 4 * 4 * 6  # the noise latent of a 48x32 picture
    assert pixels.std() > 0  # a picture, not a flat fill


def test_the_same_controls_give_the_same_image_on_a_fresh_generator(tmp_path, tiny_model):
    a = [image(generator(tmp_path / "a", tiny_model), **v) for v in (STILL, STORM)]
    b = [image(generator(tmp_path / "b", tiny_model), **v) for v in (STILL, STORM)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_the_image_follows_the_body_between_the_moods(tmp_path, tiny_model):
    still = image(generator(tmp_path / "a", tiny_model), **STILL)
    storm = image(generator(tmp_path / "b", tiny_model), **STORM)
    assert np.abs(still.astype(int) - storm).max() > 0


def test_each_prompt_is_encoded_once_however_often_it_is_blended(tmp_path, tiny_model):
    gen = generator(tmp_path, tiny_model)
    encoder = gen.model.prompts.encoder
    before = encoder.encoded
    rng = np.random.default_rng(0)
    for i in range(6):
        gen(ctl(t=i / 4, calm=float(rng.random()), energy=float(rng.random())))
    assert encoder.encoded == before == 3  # the two prompts and the empty reference


def test_weights_blend_toward_the_nearest_mood(tmp_path, tiny_model):
    gen = generator(tmp_path, tiny_model)
    gen(ctl(**STILL))
    weights = gen.model.prompts.last.weights
    assert weights["still water"] > 0.9 > weights["storm"]


def test_a_live_prompt_changes_the_picture_and_is_encoded_once(tmp_path, tiny_model):
    gen = generator(tmp_path, tiny_model)
    before = image(gen, **STILL)
    gen.set_prompt("still water", "a field of red poppies")
    after = image(gen, **STILL)
    again = image(gen, **STILL)
    assert np.abs(before.astype(int) - after).max() > 0
    assert gen.model.prompts.encoder.encoded == 4
    assert gen.model.prompts.texts()["still water"] == "a field of red poppies"
    assert "still water" in gen.hud_line() and "poppies" in gen.hud_line()
    assert again.shape == after.shape
    with pytest.raises(KeyError, match="moods: still water, storm"):
        gen.set_prompt("sunrise", "x")


def test_the_tiny_vae_decodes_instead_of_the_full_one(tmp_path, tiny_model):
    full = image(generator(tmp_path / "a", tiny_model), **STILL)
    tiny_gen = generator(tmp_path / "b", tiny_model, diffusion=f'tiny_vae = "{tiny_model.taesd}"')
    assert type(tiny_gen.model.model.txt2img.vae).__name__ == "AutoencoderTiny"
    tiny = image(tiny_gen, **STILL)
    assert not np.array_equal(full, tiny)


@pytest.mark.parametrize("settings", ['scheduler = "lcm"', "steps = 2", "guidance = 2.0"])
def test_other_samplers_steps_and_guidance_paint_too(tmp_path, tiny_model, settings):
    gen = generator(tmp_path, tiny_model, diffusion=settings)
    pixels = image(gen, **STORM)
    assert pixels.std() > 0


def test_heartbeat_kicks_move_the_noise_latent(tmp_path, tiny_model):
    gen = generator(tmp_path, tiny_model)
    gen(ctl(t=0.0, pulse=0.0, **STILL))
    rest = gen.latent
    gen(ctl(t=0.0, pulse=1.0, **STILL))
    assert float((gen.latent - rest).norm()) > 0.1 * float(rest.norm()) / 4


def test_a_show_without_prompts_takes_none_and_has_no_hud_line(tmp_path):
    from tests.unit.test_chain import write_show as plain_show

    gen = make_generator(load_show(plain_show(tmp_path, "")), device="cpu")
    with pytest.raises(KeyError, match="takes no prompts"):
        gen.set_prompt("storm", "x")
    gen(ctl(**STILL))
    assert gen.hud_line() == "" and gen.save_blend(tmp_path / "x.safetensors") == ""
    assert not (tmp_path / "x.safetensors").exists()


# -- img2img: the diffusion model repaints the CPPN's image ---------------------------------
def repaint(tmp_path, tiny_model, settings: str) -> GeneratorChain:
    gen = generator(tmp_path, tiny_model, model="cppn", generator=stage_table(settings))
    assert [type(g.stage) for g in gen.stages] == [DiffusionStage]
    return gen


def diffusion_stage(gen: GeneratorChain) -> DiffusionStage:
    return gen.stages[0].stage  # type: ignore[return-value]


def source_and_repainted(gen: GeneratorChain, **values: float
                         ) -> tuple[np.ndarray, np.ndarray]:
    """The CPPN's own image at ``values`` and the repainted one (each from a fresh walk)."""
    gen.walk._z = None
    with torch.inference_mode():
        source = gen.buffers.write(gen.model.render(gen.walk(ctl(**values))), 0).copy()
    gen.walk._z = None
    return source, image(gen, **values)


def test_zero_strength_shows_the_source_image_untouched(tmp_path, tiny_model):
    gen = repaint(tmp_path, tiny_model, 'strength_control = "energy"\nstrength_range = [0.0, 0.8]')
    source, shown = source_and_repainted(gen, calm=1.0, energy=0.0)
    assert np.array_equal(source, shown)
    assert diffusion_stage(gen).last_strength == 0.0


def test_strength_follows_its_control_and_repaints_more_as_it_rises(tmp_path, tiny_model):
    gen = repaint(tmp_path, tiny_model, 'strength_control = "energy"\nstrength_range = [0.0, 0.9]')
    changes = []
    for energy in (0.2, 0.5, 1.0):
        source, shown = source_and_repainted(gen, calm=1.0, energy=energy)
        assert diffusion_stage(gen).last_strength == pytest.approx(0.9 * energy)
        changes.append(float(np.abs(shown.astype(int) - source).mean()))
    # The trained tiny VAE keeps the CPPN's shapes; the random UNet repaints more of them
    # the more of the noise range it is given.
    assert 0 < changes[0] < changes[1] < changes[2], changes
    assert gen.hud_line().endswith("diffusion strength 0.90")


def test_mix_blends_the_repainted_image_over_the_source(tmp_path, tiny_model):
    gen = repaint(tmp_path, tiny_model, 'strength = 0.6\nmix_control = "energy"')
    source0, none = source_and_repainted(gen, calm=1.0, energy=0.0)
    source, full = source_and_repainted(gen, calm=1.0, energy=1.0)
    gen = repaint(tmp_path / "b", tiny_model, "strength = 0.6\nmix = 0.5")
    source_b, half = source_and_repainted(gen, calm=1.0, energy=1.0)
    assert np.array_equal(none, source0) and np.array_equal(source_b, source)
    # Half the repainting, within the uint8 rounding of each image.
    expected = (source.astype(float) + full) / 2
    assert np.abs(half - expected).max() <= 1.0
    assert np.abs(full.astype(int) - source).mean() > 4 * np.abs(half - expected).mean()


def test_a_diffusion_source_then_a_diffusion_stage_take_the_same_live_prompt(
        tmp_path, tiny_model):
    gen = generator(tmp_path, tiny_model, generator=stage_table("strength = 0.5"))
    assert isinstance(gen.model, DiffusionSource)
    before = image(gen, **STILL)
    gen.set_prompt("storm", "a red sunrise")
    after = image(gen, **STILL)
    assert gen.model.prompts.texts()["storm"] == "a red sunrise"
    assert diffusion_stage(gen).prompts.texts()["storm"] == "a red sunrise"
    assert not np.array_equal(before, after)
    assert "prompt" in gen.hud_line() and "diffusion strength 0.50" in gen.hud_line()


def test_the_repaint_key_of_the_old_diffusion_table_is_refused_by_name(tmp_path, tiny_model):
    path = write_show(tmp_path, tiny_model.pipe, model="cppn", diffusion="repaint = true")
    with pytest.raises(ShowError, match=r"show\.toml:\d+: diffusion\.repaint: unknown key"):
        load_show(path)


class _FailingStage:
    name = "failing"

    def __init__(self, error: BaseException | None) -> None:
        self.error = error
        self.last_strength = 0.0

    def __call__(self, image: torch.Tensor, controls: Controls) -> torch.Tensor:
        if self.error is not None:
            raise self.error
        return image * float("nan")

    def reset(self) -> None:
        pass


@pytest.mark.parametrize("error", [torch.cuda.OutOfMemoryError("CUDA out of memory"),
                                   MemoryError()])
def test_a_memory_error_turns_the_stage_off_with_one_line_and_the_piece_goes_on(
        tmp_path, tiny_model, caplog, error):
    gen = repaint(tmp_path, tiny_model, "strength = 0.5")
    gen.stages[0] = GuardedStage(_FailingStage(error))
    gen.stages[0].enabled = False
    expected, _ = source_and_repainted(gen, **STILL)
    gen.walk._z = None
    gen.stages[0].enabled = True
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        first = image(gen, **STILL)
        image(gen, **STILL)
    assert np.array_equal(first, expected)
    assert not gen.stages[0].enabled
    lines = [r for r in caplog.records if "failing" in r.getMessage()]
    assert len(lines) == 1 and "off for the rest of the run" in lines[0].getMessage()
    assert gen.hud_line() == "failing off (memory)"


def test_a_failing_or_nan_stage_is_bypassed_never_black(tmp_path, tiny_model, caplog):
    gen = repaint(tmp_path, tiny_model, "strength = 0.5")
    for failing in (_FailingStage(RuntimeError("boom")), _FailingStage(None)):
        gen.stages[0] = GuardedStage(failing)
        with caplog.at_level(logging.WARNING):
            expected, shown = source_and_repainted(gen, **STILL)
        assert np.array_equal(shown, expected)
        assert gen.stages[0].enabled
    assert sum("bypassed" in r.getMessage() for r in caplog.records) == 2


# -- saving the blend (rehearsal's m) -------------------------------------------------------
def test_a_saved_blend_repaints_the_same_picture_as_a_mood(tmp_path, tiny_model):
    still = "drift = 0.0\ntemperature = 0.0"
    gen = generator(tmp_path / "a", tiny_model, generator=still)
    middle = {"calm": 0.5, "energy": 0.55}
    shown = image(gen, **middle)
    folder = tmp_path / "a" / "moods"
    lines = gen.save_blend(folder / "mood-1.prompt.safetensors")
    assert 'embedding = "moods/mood-1.prompt.safetensors"' in lines
    assert '"still water at dawn"' in lines and '"a storm over the sea"' in lines
    np.save(folder / "mood-1.npy", gen.latent.numpy())
    saved = (f'[[moods]]\nname = "saved"\nposition = [0.5, 0.55]\n'
             f'latent = "moods/mood-1.npy"\n{lines}')
    show = write_show(tmp_path / "a", tiny_model.pipe, generator=still, moods=saved)
    again = make_generator(load_show(show), device="cpu")
    assert np.array_equal(image(again, **middle), shown)
