"""An SDXL-style folder (two text encoders, pooled and size conditioning) loads and paints,
as txt2img, as img2img, and with guidance."""

from __future__ import annotations

import numpy as np
import pytest

from installation.generator.factory import make_generator
from installation.messages import Controls
from installation.show import load_show
from tests.diffusion.conftest import write_show


@pytest.fixture(scope="module")
def xl_pipe(tmp_path_factory: pytest.TempPathFactory):
    from installation.generator.diffusion.tiny import build_tiny_pipeline

    return build_tiny_pipeline(tmp_path_factory.mktemp("tiny-xl") / "pipe", xl=True,
                               train_steps=0)


STAGE = '[[generator.stages]]\nkind = "diffusion"'


@pytest.mark.parametrize(("model", "stage", "settings"), [("diffusion", "", ""),
                                                          ("cppn", STAGE, ""),
                                                          ("diffusion", "", "guidance = 2.0")])
def test_an_sdxl_folder_paints_and_follows_the_moods(tmp_path, xl_pipe, model, stage, settings):
    gen = make_generator(load_show(write_show(tmp_path, xl_pipe, model=model, generator=stage,
                                              diffusion=settings)), device="cpu")
    prompts = gen.stages[0].stage.prompts if stage else gen.model.prompts
    assert prompts.encoder.model.family == "xl"
    still = gen(Controls(t=0.0, values={"calm": 1.0, "energy": 0.1})).pixels.copy()
    storm = gen(Controls(t=0.0, values={"calm": 0.0, "energy": 1.0})).pixels.copy()
    assert set(prompts.last.conditioning) == {"prompt_embeds", "pooled_prompt_embeds"}
    assert still.std() > 0 and not np.array_equal(still, storm)
