"""Bad models get one line naming the show key (file:line), exit 2, and nothing is fetched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from installation.errors import ModelError, ShowError
from installation.generator.factory import make_generator
from installation.show import load_show
from tests.diffusion.conftest import REPO, write_show


def build(show: Path) -> None:
    make_generator(load_show(show), device="cpu")


def refused(show: Path, *words: str) -> str:
    with pytest.raises(ModelError) as caught:
        build(show)
    message = str(caught.value)
    assert "\n" not in message
    for word in (f"{show}:", *words):
        assert word in message, message
    return message


def line_of(show: Path, text: str) -> int:
    return next(i for i, line in enumerate(show.read_text().splitlines(), 1) if text in line)


def copy_pipe(tiny_model, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model.pipe, tmp_path / "model"))


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "installation", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def assert_one_line(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_folder_that_is_not_a_pipeline_is_one_line_with_exit_2(tmp_path):
    (tmp_path / "not-a-model").mkdir()
    show = write_show(tmp_path, tmp_path / "not-a-model")
    line = assert_one_line(cli("check", show), "not a diffusers pipeline folder",
                           f":{line_of(show, 'path =')}: diffusion.path")
    assert "model_index.json" in line


def test_a_missing_component_names_it(tmp_path, tiny_model):
    model = copy_pipe(tiny_model, tmp_path)
    shutil.rmtree(model / "unet")
    refused(write_show(tmp_path, model), "diffusion.path", "component 'unet' is missing")


def test_a_component_without_weights_names_it(tmp_path, tiny_model):
    model = copy_pipe(tiny_model, tmp_path)
    for weights in (model / "text_encoder").glob("*.safetensors"):
        weights.unlink()
    refused(write_show(tmp_path, model), "component 'text_encoder' has no weights")


def test_a_component_left_out_of_the_index_names_it(tmp_path, tiny_model):
    model = copy_pipe(tiny_model, tmp_path)
    index = json.loads((model / "model_index.json").read_text())
    index["vae"] = [None, None]
    (model / "model_index.json").write_text(json.dumps(index))
    refused(write_show(tmp_path, model), "component 'vae' is missing from")


def test_a_pipeline_of_another_family_is_refused(tmp_path, tiny_model):
    model = copy_pipe(tiny_model, tmp_path)
    index = json.loads((model / "model_index.json").read_text())
    index["_class_name"] = "FluxPipeline"
    (model / "model_index.json").write_text(json.dumps(index))
    refused(write_show(tmp_path, model), "FluxPipeline, not a Stable Diffusion")


def test_a_single_checkpoint_without_a_local_config_is_refused_not_fetched(tmp_path,
                                                                         tiny_model):
    from safetensors.torch import load_file, save_file

    checkpoint = tmp_path / "model.safetensors"
    save_file(load_file(str(next((tiny_model.pipe / "unet").glob("*.safetensors")))),
              str(checkpoint))
    show = write_show(tmp_path, checkpoint)
    message = refused(show, "diffusion.config", "needs config = a local diffusers folder",
                      "the hub is never asked")
    assert f":{line_of(show, '[diffusion]')}:" in message


def test_a_pickle_checkpoint_is_refused(tmp_path):
    checkpoint = tmp_path / "model.ckpt"
    checkpoint.write_bytes(b"not loaded")
    refused(write_show(tmp_path, checkpoint), "only a diffusers folder or a .safetensors")


def test_a_missing_path_is_one_line(tmp_path):
    refused(write_show(tmp_path, tmp_path / "nowhere"), "not found")


def test_a_tiny_vae_that_is_not_taesd_names_its_key(tmp_path, tiny_model):
    show = write_show(tmp_path, tiny_model.pipe,
                      diffusion=f'tiny_vae = "{tiny_model.pipe / "vae"}"')
    refused(show, f":{line_of(show, 'tiny_vae')}: diffusion.tiny_vae",
            "AutoencoderKL, not an AutoencoderTiny")


def test_a_saved_blend_from_another_model_names_the_mood(tmp_path, tiny_model):
    import torch
    from safetensors.torch import save_file

    save_file({"prompt_embeds": torch.zeros(1, 77, 768)}, str(tmp_path / "other.safetensors"))
    moods = ('[[moods]]\nname = "elsewhere"\nposition = [0.5, 0.5]\n'
             'embedding = "other.safetensors"\n')
    show = write_show(tmp_path, tiny_model.pipe, moods=moods)
    refused(show, "moods[0].embedding", "saved with another model?")


def test_diffusion_without_a_model_path_is_a_show_error_naming_the_key(tmp_path, tiny_model):
    show = write_show(tmp_path, tiny_model.pipe)
    show.write_text(show.read_text().replace(f'path = "{tiny_model.pipe}"', ""))
    with pytest.raises(ShowError, match=r"diffusion\.path: .*nothing is downloaded"):
        load_show(show)


def test_a_prompt_mood_without_the_diffusion_model_is_a_show_error(tmp_path, tiny_model):
    show = write_show(tmp_path, tiny_model.pipe, model="cppn")
    with pytest.raises(ShowError, match=r"show.toml:\d+: moods\[0\]\.prompt: a prompt needs"):
        load_show(show)


BLOCKER = '''
import importlib.abc, sys

class _Hide(importlib.abc.MetaPathFinder):
    """Pretend the diffusion extra is not installed."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("diffusers", "transformers", "safetensors"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _Hide())
'''


def test_without_the_extra_a_run_says_how_to_install_it(tmp_path, tiny_model):
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(BLOCKER)
    show = write_show(tmp_path, tiny_model.pipe)
    out = tmp_path / "out.mp4"
    result = cli("replay", REPO / "installation" / "demo" / "demo_session.xdf", "--show", show,
                 "-o", out, "--duration", "1", "-q", env={"PYTHONPATH": str(hide)})
    assert_one_line(result, f":{line_of(show, 'path =')}: diffusion.path",
                    "needs the diffusion extra: pip install -e '.[diffusion]'")
    assert not out.exists()


def test_a_diffusion_stage_without_a_model_path_is_a_show_error_naming_the_key(tmp_path):
    from tests.unit.test_chain import write_show as plain_show

    show = plain_show(tmp_path, '[[generator.stages]]\nkind = "diffusion"\n')
    with pytest.raises(ShowError, match=r'diffusion\.path: model = "diffusion" and kind = '
                       r'"diffusion" stages need path = .*nothing is downloaded'):
        load_show(show)


def test_a_diffusion_stage_of_a_broken_folder_names_the_diffusion_key(tmp_path, tiny_model):
    model = copy_pipe(tiny_model, tmp_path)
    shutil.rmtree(model / "vae")
    show = write_show(tmp_path, model, model="cppn",
                      generator='[[generator.stages]]\nkind = "diffusion"')
    refused(show, f":{line_of(show, 'path =')}: diffusion.path", "component 'vae' is missing")
