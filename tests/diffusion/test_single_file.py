"""A single original-layout ``.safetensors`` checkpoint (as A1111 and ComfyUI share them) loads
offline with a local config folder and paints exactly what the same weights do as a folder."""

from __future__ import annotations

import numpy as np
import pytest

from installation.errors import ModelError
from installation.generator.factory import make_generator
from installation.messages import Controls
from installation.show import load_show
from tests.diffusion.conftest import write_show
from tests.diffusion.ldm_layout import ldm_state_dict, round_trip_mismatches, write_single_file

STILL = {"calm": 1.0, "energy": 0.1}
STORM = {"calm": 0.0, "energy": 1.0}


def images(show) -> list[np.ndarray]:
    gen = make_generator(load_show(show), device="cpu")
    return [gen(Controls(t=0.0, values=v)).pixels.copy() for v in (STILL, STORM)]


def test_the_ldm_file_holds_the_pipelines_weights_as_diffusers_reads_them(tiny_model):
    checkpoint = ldm_state_dict(tiny_model.pipe)
    assert any(k.startswith("model.diffusion_model.input_blocks.") for k in checkpoint)
    assert any(k.startswith("first_stage_model.decoder.up.") for k in checkpoint)
    assert round_trip_mismatches(tiny_model.pipe, checkpoint) == []


def test_a_single_safetensors_file_paints_what_its_folder_paints(tmp_path, tiny_model):
    single = write_single_file(tiny_model.pipe, tmp_path / "model.safetensors")
    from_file = images(write_show(tmp_path / "file", single,
                                  diffusion=f'config = "{tiny_model.pipe}"'))
    from_folder = images(write_show(tmp_path / "folder", tiny_model.pipe))
    assert all(np.array_equal(a, b) for a, b in zip(from_file, from_folder, strict=True))
    assert np.abs(from_file[0].astype(int) - from_file[1]).max() > 0  # the moods still differ


def test_a_single_file_missing_a_component_is_one_line_not_a_traceback(tmp_path, tiny_model):
    from safetensors.torch import save_file

    weights = {k: v for k, v in ldm_state_dict(tiny_model.pipe).items()
               if not k.startswith("cond_stage_model.")}  # no text encoder
    save_file(weights, str(tmp_path / "model.safetensors"))
    show = write_show(tmp_path, tmp_path / "model.safetensors",
                      diffusion=f'config = "{tiny_model.pipe}"')
    with pytest.raises(ModelError) as caught:
        make_generator(load_show(show), device="cpu")
    message = str(caught.value)
    assert "\n" not in message and f"{show}:" in message and "diffusion.path" in message
    assert "cannot load" in message and "CLIPTextModel" in message
