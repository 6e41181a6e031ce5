"""The tiny diffusion pipeline, built once per session and saved as an artist's folder."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"

SHOW = """
[streams.ecg]
type = "ECG"

[[mappings]]
control = "calm"
feature = "ecg.heart_rate"
in_range = [55.0, 110.0]
invert = true

[[mappings]]
control = "pulse"
feature = "ecg.beat_pulse"

[generator]
model = "{model}"
size = [48, 32]
rate = 4
{generator}

[diffusion]
path = "{pipe}"
{diffusion}

{moods}

[[passes]]
name = "garden"
shader = "shaders/garden.frag"
inputs = {{ u_state = "garden", u_tint = "tint" }}
size = [64, 36]
format = "rgba32f"
wrap = "repeat"
uniforms = {{ u_pulse = "pulse", u_calm = "calm" }}  # u_energy: nothing maps it (0)

[[passes]]
name = "tint"
shader = "shaders/garden_tint.frag"
inputs = {{ u_frame = "frame", u_prev_frame = "prev_frame" }}
size = [48, 32]
format = "rgba8"
uniforms = {{ u_calm = "calm" }}

[[passes]]
name = "haze"
shader = "shaders/garden_haze.frag"
inputs = {{ u_frame = "frame", u_prev_frame = "prev_frame" }}
size = [16, 9]
format = "rgba8"

[[passes]]
name = "light"
shader = "shaders/pulse.frag"
inputs = {{ u_garden = "garden", u_tint = "tint", u_haze = "haze" }}
uniforms = {{ u_pulse = "pulse", u_calm = "calm" }}

[output]
size = [48, 32]
fps = 8
"""


@dataclass(frozen=True)
class TinyModel:
    pipe: Path  # a diffusers folder, as save_pretrained writes it
    taesd: Path  # a tiny AutoencoderTiny folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    from installation.generator.diffusion.tiny import build_tiny_pipeline

    root = tmp_path_factory.mktemp("tiny-diffusion")
    build_tiny_pipeline(root / "pipe", seed=0, tiny_vae=root / "taesd")
    return TinyModel(root / "pipe", root / "taesd")


MOODS = """
[[moods]]
name = "still water"
position = [1.0, 0.1]
prompt = "still water at dawn"

[[moods]]
name = "storm"
position = [0.0, 1.0]
prompt = "a storm over the sea"
"""


def write_show(folder: Path, pipe: Path, model: str = "diffusion", diffusion: str = "",
               generator: str = "", moods: str = MOODS, extra: str = "") -> Path:
    """A small show using ``pipe`` (``[diffusion] path``); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    shaders = folder / "shaders"
    if not shaders.exists():
        shutil.copytree(REPO / "shaders", shaders)
    path = folder / "show.toml"
    path.write_text(SHOW.format(model=model, pipe=pipe, diffusion=diffusion,
                                generator=generator, moods=moods) + extra)
    return path
