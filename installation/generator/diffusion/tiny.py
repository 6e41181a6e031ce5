"""A tiny, random diffusion pipeline saved as an artist's folder would be.

For tests, benchmarks and the stills: it proves the code path (loading offline, prompts,
txt2img, img2img, the tiny VAE) in seconds on a CPU. Its weights are random: it paints
noise-like texture, never art. A real model (your sd-turbo folder) is needed for that; none
is shipped or downloaded.

Everything is built from small configs: ``UNet2DConditionModel``, ``AutoencoderKL`` (with
SD's 8x downsampling, so latents are as small as a real model's), ``CLIPTextModel`` and a
``CLIPTokenizer`` whose vocabulary (the 256 byte symbols, the word-end forms and the two
special tokens) is written here, and a turbo-style Euler ancestral trailing scheduler.

Only the VAE is trained (``train_steps``, a few hundred steps on CPPN images, seconds on a
CPU), and its ``scaling_factor`` set to one over its latents' spread as SD's was: then
img2img at a low strength keeps the source's shapes and a high one repaints them, which the
stills and a test show. The UNet and text encoder stay random.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from installation.generator.diffusion.offline import import_diffusers

HIDDEN = 32


def _byte_symbols() -> list[str]:
    # GPT-2/CLIP byte-level BPE alphabet (Radford et al. 2019): printable bytes map to
    # themselves, the rest to code points from 256 up, so every byte is one symbol.
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def write_vocabulary(folder: Path) -> int:
    """``vocab.json`` + ``merges.txt`` of a minimal CLIP BPE; returns the vocabulary size."""
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_symbols()
    tokens = [*symbols, *(s + "</w>" for s in symbols), "<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return len(vocab)


def cppn_images(count: int, size: int, seed: int) -> torch.Tensor:
    """``(count, 3, size, size)`` images in 0..1 from the default CPPN at random latents."""
    from installation.generator.cppn import Cppn
    from installation.show import GeneratorSpec

    spec = GeneratorSpec()
    net = Cppn(spec.latent_dim, spec.hidden, spec.layers, spec.detail, seed).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        proj = net.project_coordinates(net.coordinates(size, size))
        images = [net(proj, torch.randn(spec.latent_dim, generator=gen)).view(size, size, 3)
                  for _ in range(count)]
    return torch.stack(images).permute(0, 3, 1, 2).contiguous()


def train_autoencoder(vae: torch.nn.Module, steps: int, seed: int, size: int = 64) -> float:
    """Train ``vae`` (an ``AutoencoderKL``) to reconstruct CPPN images; returns the final
    reconstruction MSE (0..1 pixels). Sets ``scaling_factor`` to 1 / std of the latents."""
    threads = torch.get_num_threads()
    # Small convolutions gain nothing from a second thread, and on a shared machine the
    # threads' spinning makes training many times slower: one thread, then as before.
    torch.set_num_threads(1)
    try:
        return _train(vae, steps, seed, size)
    finally:
        torch.set_num_threads(threads)


def _train(vae: torch.nn.Module, steps: int, seed: int, size: int) -> float:
    images = cppn_images(64, size, seed) * 2.0 - 1.0
    gen = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(vae.parameters(), lr=2e-3)
    vae.train()
    loss = torch.tensor(0.0)
    for _ in range(steps):
        batch = images[torch.randint(0, len(images), (8,), generator=gen)]
        posterior = vae.encode(batch).latent_dist
        recon = vae.decode(posterior.sample(gen)).sample
        loss = ((recon - batch) ** 2).mean()
        kl = posterior.kl().mean() / batch[0].numel()
        optimiser.zero_grad()
        (loss + 1e-3 * kl).backward()
        optimiser.step()
    vae.eval()
    with torch.no_grad():
        latents = vae.encode(images).latent_dist.mode()
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    return float(loss.detach()) / 4.0  # MSE on -1..1 -> MSE on 0..1


def build_tiny_pipeline(folder: Path, seed: int = 0, tiny_vae: Path | None = None,
                        sample_size: int = 8, train_steps: int = 150, xl: bool = False) -> Path:
    """Save a tiny random SD-style pipeline to ``folder`` (and a tiny TAESD to ``tiny_vae``).

    Parameters
    ----------
    folder
        Where the pipeline folder is written (``save_pretrained``).
    seed
        Seed of the random weights.
    tiny_vae
        Where to write a tiny ``AutoencoderTiny`` too (``None``: not written).
    sample_size
        The UNet's nominal latent size (``8``: 64x64 images).
    train_steps
        Steps of VAE training on CPPN images (0: leave it random).
    xl
        An SDXL-style pipeline instead: two text encoders (the second with a projection,
        whose pooled output joins the size/crop "text_time" conditioning of the UNet).
    """
    import_diffusers("tiny pipeline")  # offline, quiet
    from diffusers import (
        AutoencoderKL,
        AutoencoderTiny,
        EulerAncestralDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    folder = Path(folder)
    torch.manual_seed(seed)
    # SDXL: cross-attention on both encoders' states side by side; "text_time" adds the
    # pooled embedding and 6 size/crop numbers (each embedded in 8) to the time embedding.
    xl_unet = ({"addition_embed_type": "text_time", "addition_time_embed_dim": 8,
                "projection_class_embeddings_input_dim": 6 * 8 + HIDDEN,
                "use_linear_projection": True} if xl else {})
    unet = UNet2DConditionModel(
        sample_size=sample_size, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), norm_num_groups=8,
        cross_attention_dim=2 * HIDDEN if xl else HIDDEN,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), attention_head_dim=4, **xl_unet,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
        block_out_channels=(8, 8, 16, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        sample_size=sample_size * 8,
    )
    if train_steps:
        train_autoencoder(vae, train_steps, seed)
    vocab_dir = folder.parent / f".{folder.name}-vocab"
    size = write_vocabulary(vocab_dir)
    tokenizer = CLIPTokenizer.from_pretrained(vocab_dir, local_files_only=True,
                                              model_max_length=77)
    config = CLIPTextConfig(
        vocab_size=size, hidden_size=HIDDEN, intermediate_size=64, num_attention_heads=4,
        num_hidden_layers=2, max_position_embeddings=77, projection_dim=HIDDEN,
        bos_token_id=size - 2, eos_token_id=size - 1, pad_token_id=size - 1,
    )
    text_encoder = CLIPTextModel(config)
    scheduler = EulerAncestralDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        timestep_spacing="trailing", steps_offset=1,
    )
    if xl:
        pipe = StableDiffusionXLPipeline(
            vae=vae, text_encoder=text_encoder, text_encoder_2=CLIPTextModelWithProjection(
                config), tokenizer=tokenizer, tokenizer_2=tokenizer, unet=unet,
            scheduler=scheduler,
        )
    else:
        pipe = StableDiffusionPipeline(
            vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
            scheduler=scheduler, safety_checker=None, feature_extractor=None,
            requires_safety_checker=False,
        )
    pipe.save_pretrained(folder)
    if tiny_vae is not None:
        AutoencoderTiny(
            encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
            num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1),
            latent_channels=4,
        ).save_pretrained(Path(tiny_vae))
    return folder
