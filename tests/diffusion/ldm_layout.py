"""Write a diffusers pipeline folder as one original-layout (LDM) ``.safetensors`` file.

Artists' single-file checkpoints (what A1111 and ComfyUI share) use the original
CompVis/Stability key names: ``model.diffusion_model.*`` for the UNet,
``first_stage_model.*`` for the VAE and ``cond_stage_model.transformer.*`` for the CLIP text
encoder. diffusers reads that layout (``loaders/single_file_utils.py``) but ships no writer:
its reverse script (``scripts/convert_diffusers_to_original_stable_diffusion.py``, not in the
package) is written for SD 1.x's fixed block counts. This is the reverse of diffusers' own
``convert_ldm_unet_checkpoint`` / ``convert_ldm_vae_checkpoint`` for any block count, so a
test can make the file from the tiny pipeline and check that diffusers reads it back to the
same weights (``round_trip_mismatches``). Test code only: the engine never writes this layout.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

UNET, VAE, CLIP = "model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer."

_UNET_TOP = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
             "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}
_UNET_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0",
                "conv2": "out_layers.3", "time_emb_proj": "emb_layers.1",
                "conv_shortcut": "skip_connection"}
_VAE_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _resnet(rest: str, table: dict[str, str]) -> str:
    head, _, tail = rest.partition(".")
    if head == "time_emb_proj" or head.startswith(("norm", "conv")):
        return table.get(head, head) + "." + tail
    raise KeyError(rest)


def unet_key(key: str, layers: int, has_attention: list[bool]) -> str:
    """The LDM name of a diffusers UNet parameter (``layers``: ``layers_per_block``)."""
    head, _, leaf = key.rpartition(".")
    if head in _UNET_TOP:
        return f"{_UNET_TOP[head]}.{leaf}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        block, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = 1 + block * (layers + 1) + j
        if kind == "resnets":
            return f"input_blocks.{index}.0.{_resnet(rest, _UNET_RESNET)}"
        return f"input_blocks.{index}.1.{rest}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"input_blocks.{(int(m[1]) + 1) * (layers + 1)}.0.op.{m[2]}"
    if m := re.fullmatch(r"mid_block\.(resnets|attentions)\.(\d+)\.(.+)", key):
        if m[1] == "resnets":
            return f"middle_block.{2 * int(m[2])}.{_resnet(m[3], _UNET_RESNET)}"
        return f"middle_block.1.{m[3]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", key):
        block, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        index = block * (layers + 1) + j
        if kind == "resnets":
            return f"output_blocks.{index}.0.{_resnet(rest, _UNET_RESNET)}"
        return f"output_blocks.{index}.1.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        block = int(m[1])
        index = block * (layers + 1) + layers  # the block's last layer carries the upsampler
        return f"output_blocks.{index}.{2 if has_attention[block] else 1}.conv.{m[2]}"
    raise KeyError(f"no LDM name for UNet parameter {key}")


def vae_key(key: str, up_blocks: int) -> str:
    """The LDM name of a diffusers AutoencoderKL parameter."""
    if m := re.fullmatch(r"(encoder|decoder)\.conv_norm_out\.(.+)", key):
        return f"{m[1]}.norm_out.{m[2]}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)", key):
        return f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", key):
        block = up_blocks - 1 - int(m[1])  # LDM numbers the decoder's blocks from the bottom
        return f"decoder.up.{block}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)", key):
        return f"decoder.up.{up_blocks - 1 - int(m[1])}.upsample.conv.{m[2]}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.+)", key):
        rest = m[3].replace("conv_shortcut", "nin_shortcut")
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{rest}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)\.(weight|bias)", key):
        return f"{m[1]}.mid.attn_1.{_VAE_ATTN[m[2]]}.{m[3]}"
    return key  # conv_in, conv_out, quant_conv, post_quant_conv: the same names


def _text_model(key: str) -> str:
    """transformers 5 saves ``CLIPTextModel`` without its ``text_model.`` prefix; LDM files
    (and diffusers' reader of them) have it."""
    return key if key.startswith("text_model.") else "text_model." + key


def _load_component(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    (weights,) = folder.glob("*.safetensors")
    return load_file(str(weights))


def ldm_state_dict(pipe: Path) -> dict[str, torch.Tensor]:
    """Every weight of the SD-style pipeline folder ``pipe``, under LDM names."""
    unet_config = json.loads((pipe / "unet" / "config.json").read_text())
    vae_config = json.loads((pipe / "vae" / "config.json").read_text())
    attention = ["CrossAttn" in kind for kind in unet_config["up_block_types"]]
    out: dict[str, torch.Tensor] = {}
    for key, value in _load_component(pipe / "unet").items():
        out[UNET + unet_key(key, unet_config["layers_per_block"], attention)] = value
    ups = len(vae_config["up_block_types"])
    for key, value in _load_component(pipe / "vae").items():
        name = vae_key(key, ups)
        if ".mid.attn_1." in name and value.ndim == 2:
            value = value[:, :, None, None]  # LDM's attention projections are 1x1 convs
        out[VAE + name] = value
    for key, value in _load_component(pipe / "text_encoder").items():
        out[CLIP + _text_model(key)] = value
    return {k: v.contiguous() for k, v in out.items()}


def write_single_file(pipe: Path, path: Path) -> Path:
    """Save ``pipe``'s weights as one LDM-layout ``.safetensors`` at ``path``."""
    from safetensors.torch import save_file

    save_file(ldm_state_dict(pipe), str(path))
    return path


def round_trip_mismatches(pipe: Path, checkpoint: dict[str, torch.Tensor]) -> list[str]:
    """Parameters that diffusers' own LDM readers do not bring back equal to ``pipe``'s."""
    from diffusers.loaders.single_file_utils import (
        convert_ldm_clip_checkpoint,
        convert_ldm_unet_checkpoint,
        convert_ldm_vae_checkpoint,
    )

    unet_config = json.loads((pipe / "unet" / "config.json").read_text())
    vae_config = json.loads((pipe / "vae" / "config.json").read_text())
    pairs = [("unet", convert_ldm_unet_checkpoint(checkpoint, unet_config)),
             ("vae", convert_ldm_vae_checkpoint(checkpoint, vae_config)),
             ("text_encoder", convert_ldm_clip_checkpoint(checkpoint))]
    bad = []
    for name, converted in pairs:
        original = _load_component(pipe / name)
        if name == "text_encoder":
            original = {_text_model(k): v for k, v in original.items()}
        for key in sorted(set(original) | set(converted)):
            a, b = original.get(key), converted.get(key)
            if a is None or b is None or a.shape != b.shape or not torch.equal(a, b):
                bad.append(f"{name}.{key}")
    return bad
