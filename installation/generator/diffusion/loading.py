"""Load the artist's diffusion model from a local path; nothing is ever downloaded.

A diffusers pipeline folder (``save_pretrained`` output: sd-turbo, sdxl-turbo, any SD
1.x/2.x/XL pipeline) or a single ``.safetensors`` checkpoint with a local ``config`` folder.
Every load passes ``local_files_only=True`` with the hub switched off (:mod:`.offline`).
Problems are one-line :class:`~installation.errors.ModelError` naming the show key.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from installation.errors import ModelError
from installation.generator.diffusion.offline import import_diffusers, key_where
from installation.generator.diffusion.schedule import make_scheduler
from installation.show import DiffusionSpec

_log = logging.getLogger(__name__)

# model_index.json class -> family; both txt2img and img2img pipelines are accepted.
_FAMILIES = {
    "StableDiffusionPipeline": "sd",
    "StableDiffusionImg2ImgPipeline": "sd",
    "StableDiffusionXLPipeline": "xl",
    "StableDiffusionXLImg2ImgPipeline": "xl",
}
_REQUIRED = {
    "sd": ("unet", "vae", "text_encoder", "tokenizer", "scheduler"),
    "xl": ("unet", "vae", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2",
           "scheduler"),
}
_MODELS = ("unet", "vae", "text_encoder", "text_encoder_2")
_WEIGHTS = ("*.safetensors", "*.bin")


@dataclass
class LoadedModel:
    """The two pipelines (sharing every component) and what the source and stage need."""

    txt2img: Any
    img2img: Any
    family: str  # "sd" | "xl"
    device: torch.device
    dtype: torch.dtype
    grid: int  # timestep grid of the sampler (1: any timestep)
    train_steps: int
    vae_scale: int  # pixels per latent cell
    latent_channels: int
    spec: DiffusionSpec

    @property
    def xl(self) -> bool:
        return self.family == "xl"


@contextmanager
def _quiet() -> Iterator[None]:
    # diffusers >= 0.40 renames torch_dtype to dtype and warns; older ones only know
    # torch_dtype. The ranges in pyproject.toml span both, so keep the old name, quietly.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch_dtype.*", category=FutureWarning)
        yield


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]


def _read_index(folder: Path, where: str) -> dict[str, Any]:
    index = folder / "model_index.json"
    if not index.is_file():
        raise ModelError(f"{where}: {folder} is not a diffusers pipeline folder (no"
                         " model_index.json); give a folder saved with save_pretrained or a"
                         " single .safetensors checkpoint")
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"{where}: {index} is unreadable ({_first_line(error)})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{where}: {index} is not a pipeline index (not a JSON object)")
    return data


def pipeline_family(folder: Path, where: str) -> str:
    """``"sd"`` or ``"xl"`` from a folder's ``model_index.json``; refuses anything else."""
    data = _read_index(folder, where)
    name = data.get("_class_name")
    family = _FAMILIES.get(str(name))
    if family is None:
        raise ModelError(f"{where}: {folder} holds a {name}, not a Stable Diffusion 1.x/2.x/XL"
                         " pipeline (supported: " + ", ".join(sorted(_FAMILIES)) + ")")
    return family


def check_components(folder: Path, where: str, weights: bool = True) -> str:
    """Prove every component the pipeline needs is in ``folder``; returns the family.

    Raises
    ------
    ModelError
        One line naming the missing component (entry, folder, config or weights).
    """
    family = pipeline_family(folder, where)
    index = _read_index(folder, where)
    for name in _REQUIRED[family]:
        entry = index.get(name)
        if not (isinstance(entry, list) and len(entry) == 2 and entry[1]):
            raise ModelError(f"{where}: component {name!r} is missing from"
                             f" {folder / 'model_index.json'}")
        sub = folder / name
        if not sub.is_dir():
            raise ModelError(f"{where}: component {name!r} is missing ({sub} is not a folder)")
        if name in _MODELS:
            if not (sub / "config.json").is_file():
                raise ModelError(f"{where}: component {name!r} is incomplete (no"
                                 f" {sub}/config.json)")
            if weights and not any(any(sub.glob(p)) for p in _WEIGHTS):
                raise ModelError(f"{where}: component {name!r} has no weights in {sub}"
                                 " (*.safetensors or *.bin)")
        elif name == "scheduler" and not (sub / "scheduler_config.json").is_file():
            raise ModelError(f"{where}: component 'scheduler' is incomplete (no"
                             f" {sub}/scheduler_config.json)")
        elif name.startswith("tokenizer") and not (
                (sub / "tokenizer.json").is_file()
                or ((sub / "vocab.json").is_file() and (sub / "merges.txt").is_file())):
            raise ModelError(f"{where}: component {name!r} is incomplete (no tokenizer.json,"
                             f" or vocab.json and merges.txt, in {sub})")
    return family


def _classes(diffusers: Any, family: str) -> tuple[Any, Any]:
    if family == "xl":
        return diffusers.StableDiffusionXLPipeline, diffusers.StableDiffusionXLImg2ImgPipeline
    return diffusers.StableDiffusionPipeline, diffusers.StableDiffusionImg2ImgPipeline


def _load_folder(diffusers: Any, folder: Path, dtype: torch.dtype, where: str) -> tuple[Any, str]:
    family = check_components(folder, where)
    txt2img_cls, _ = _classes(diffusers, family)
    extra: dict[str, Any] = {}
    index = _read_index(folder, where)
    if family == "sd" and isinstance(index.get("safety_checker"), list):
        # An art installation paints what the artist prompts; skipping the checker also
        # saves its 1.2 GB of CLIP weights.
        extra.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    try:
        with _quiet():
            pipe = txt2img_cls.from_pretrained(folder, torch_dtype=dtype,
                                               local_files_only=True, **extra)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as error:
        raise ModelError(f"{where}: cannot load {folder} ({_first_line(error)})") from None
    return pipe, family


def _checkpoint_family(path: Path, where: str) -> str:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            keys = list(handle.keys())
    except Exception as error:  # safetensors raises its own SafetensorError for bad files
        raise ModelError(f"{where}: {path} is not a readable .safetensors checkpoint"
                         f" ({_first_line(error)})") from None
    return "xl" if any(k.startswith("conditioner.embedders.1.") for k in keys) else "sd"


def _load_single_file(diffusers: Any, path: Path, spec: DiffusionSpec, dtype: torch.dtype,
                      where: str, config_where: str) -> tuple[Any, str]:
    if path.suffix.lower() != ".safetensors":
        raise ModelError(f"{where}: {path.name}: only a diffusers folder or a .safetensors"
                         " checkpoint is loaded (.ckpt/.pt files can run code when unpickled)")
    family = _checkpoint_family(path, where)
    if spec.config is None:
        # Without a config, from_single_file looks the architecture up on the hub (and with
        # local_files_only it falls back to downloading it): refuse instead.
        raise ModelError(f"{config_where}: a single .safetensors checkpoint needs config = a"
                         " local diffusers folder of the same architecture (its configs and"
                         " tokenizer; the hub is never asked)")
    if not spec.config.is_dir():
        raise ModelError(f"{config_where}: {spec.config} is not a folder")
    config_family = check_components(spec.config, config_where, weights=False)
    if config_family != family:
        raise ModelError(f"{config_where}: {spec.config} is a {config_family.upper()} pipeline"
                         f" but {path.name} is an {family.upper()} checkpoint")
    txt2img_cls, _ = _classes(diffusers, family)
    extra: dict[str, Any] = {}
    if family == "sd":
        extra.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    from diffusers.loaders.single_file_utils import SingleFileComponentError

    try:
        with _quiet():
            pipe = txt2img_cls.from_single_file(str(path), config=str(spec.config),
                                                local_files_only=True, torch_dtype=dtype,
                                                **extra)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError,
            SingleFileComponentError) as error:  # the last: a component's weights are absent
        raise ModelError(f"{where}: cannot load {path} with config {spec.config}"
                         f" ({_first_line(error)})") from None
    return pipe, family


def _tiny_vae(diffusers: Any, folder: Path, dtype: torch.dtype, channels: int,
              where: str) -> Any:
    config = folder / "config.json"
    if not config.is_file():
        raise ModelError(f"{where}: {folder} is not a tiny VAE folder (no config.json)")
    try:
        name = json.loads(config.read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError) as error:
        raise ModelError(f"{where}: {config} is unreadable ({_first_line(error)})") from None
    if name != "AutoencoderTiny":
        raise ModelError(f"{where}: {folder} holds a {name}, not an AutoencoderTiny (TAESD)")
    try:
        with _quiet():
            vae = diffusers.AutoencoderTiny.from_pretrained(folder, torch_dtype=dtype,
                                                            local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as error:
        raise ModelError(f"{where}: cannot load {folder} ({_first_line(error)})") from None
    if vae.config.latent_channels != channels:
        raise ModelError(f"{where}: the tiny VAE has {vae.config.latent_channels} latent"
                         f" channels, the model {channels} (TAESD for SD 1/2, TAESDXL for XL)")
    return vae


def load_model(show_path: Path, spec: DiffusionSpec, device: torch.device,
               dtype: torch.dtype) -> LoadedModel:
    """Load ``spec.path`` (folder or single file) offline onto ``device`` in ``dtype``.

    Parameters
    ----------
    show_path
        The show file, named (with the key's line) in errors.
    spec
        The ``[diffusion]`` table.

    Raises
    ------
    ModelError
        One line naming the key: the extra is missing, the path is not a pipeline, a
        component is missing, or the weights do not load.
    """
    where = key_where(show_path, ("diffusion", "path"))
    diffusers = import_diffusers(where)
    path = spec.path
    if path is None:
        raise ModelError(f"{where}: is required for the diffusion model")
    if path.is_dir():
        pipe, family = _load_folder(diffusers, path, dtype, where)
    elif path.is_file():
        pipe, family = _load_single_file(diffusers, path, spec, dtype, where,
                                         key_where(show_path, ("diffusion", "config")))
    else:
        raise ModelError(f"{where}: {path} not found (a diffusers folder or a .safetensors)")
    if spec.tiny_vae is not None:
        pipe.vae = _tiny_vae(diffusers, spec.tiny_vae, dtype, pipe.vae.config.latent_channels,
                             key_where(show_path, ("diffusion", "tiny_vae")))
    scheduler, grid = make_scheduler(diffusers, spec.scheduler, pipe.scheduler.config)
    pipe.scheduler = scheduler
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    _, img2img_cls = _classes(diffusers, family)
    img2img = img2img_cls.from_pipe(pipe, vae=pipe.vae)  # shares every component
    img2img.set_progress_bar_config(disable=True)
    if spec.compile:
        # Compiled once, shared; the first images then take the compile time.
        compiled = torch.compile(pipe.unet, fullgraph=False)
        pipe.unet = compiled
        img2img.unet = compiled
    vae_scale = int(pipe.vae_scale_factor)  # from the full VAE: a tiny one scales alike
    _log.info("diffusion model %s (%s) on %s in %s, %s sampler", path, family.upper(),
              device, str(dtype).removeprefix("torch."), spec.scheduler)
    return LoadedModel(
        txt2img=pipe, img2img=img2img, family=family, device=device, dtype=dtype, grid=grid,
        train_steps=int(scheduler.config.num_train_timesteps), vae_scale=vae_scale,
        latent_channels=int(pipe.unet.config.in_channels), spec=spec,
    )
