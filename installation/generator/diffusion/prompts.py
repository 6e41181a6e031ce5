"""Text prompts as anchors in mood space: encoded once, blended by where the body is.

Each ``[[moods]]`` prompt is encoded by the model's own text encoder(s)
(``pipeline.encode_prompt``) into its conditioning (``prompt_embeds``, plus the pooled
embedding for SDXL). The body's position gives every mood a Gaussian weight
(:class:`~installation.generator.moods.MoodSpace`, the same weights the latent walk uses),
and the conditioning is the weighted sum of the moods' embeddings: prompt interpolation in
embedding space, as in prompt-travel tools. Embeddings are cached per text, so a prompt is
encoded once however often it is blended, and a live ``/prompt`` edit encodes only the new
text, on the render thread, at its next image.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from installation.errors import ModelError
from installation.generator.diffusion.loading import LoadedModel
from installation.generator.diffusion.offline import key_where
from installation.generator.moods import MoodSpace
from installation.messages import Controls
from installation.show import PROMPT_NAME, DiffusionSpec, MoodSpec, Show

_log = logging.getLogger(__name__)
Conditioning = dict[str, torch.Tensor]  # "prompt_embeds" (1, 77, D) [, "pooled_prompt_embeds"]
CACHE_TEXTS = 256  # encoded texts kept (most recently used)


class PromptEncoder:
    """Text -> conditioning with the model's encoders; each distinct text encoded once.

    The cache keeps the :data:`CACHE_TEXTS` most recently used texts: the moods' prompts are
    used for every image and stay; a long rehearsal of live prompts cannot grow it without
    end (an SD 2 conditioning is 77 x 1024 values).
    """

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self._cache: OrderedDict[str, Conditioning] = OrderedDict()
        self.encoded = 0  # texts actually run through the encoder (the cache's misses)

    @torch.inference_mode()
    def __call__(self, text: str) -> Conditioning:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        pipe = self.model.txt2img
        out = pipe.encode_prompt(prompt=text, device=self.model.device,
                                 num_images_per_prompt=1, do_classifier_free_guidance=False)
        cond: Conditioning = {"prompt_embeds": out[0]}
        if self.model.xl:
            cond["pooled_prompt_embeds"] = out[2]
            if text == "" and pipe.config.force_zeros_for_empty_prompt:
                # SDXL's own rule for an empty negative prompt: zeros, not the encoded "".
                cond = {k: torch.zeros_like(v) for k, v in cond.items()}
        cond = {k: v.to(self.model.dtype) for k, v in cond.items()}
        self._cache[text] = cond
        if len(self._cache) > CACHE_TEXTS:
            self._cache.popitem(last=False)
        self.encoded += 1
        return cond


def load_embedding(path: Path, reference: Conditioning, where: str) -> Conditioning:
    """A prompt blend saved in rehearsal (``m``): a ``.safetensors`` of conditioning tensors.

    Raises
    ------
    ModelError
        One line naming the key when the file is missing or does not fit this model.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise ModelError(f"{where}: {path} not found") from None
    except (OSError, SafetensorError) as error:
        raise ModelError(f"{where}: {path} is not a readable .safetensors ({error})") from None
    cond: Conditioning = {}
    for key, ref in reference.items():
        tensor = tensors.get(key)
        if tensor is None or tuple(tensor.shape) != tuple(ref.shape):
            got = None if tensor is None else tuple(tensor.shape)
            raise ModelError(f"{where}: {path.name}: {key} must have shape {tuple(ref.shape)}"
                             f" for this model, got {got} (saved with another model?)")
        if not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{where}: {path.name}: {key} holds non-finite values")
        cond[key] = tensor.to(ref.device, ref.dtype)
    return cond


def mix(conds: Sequence[Conditioning], weights: torch.Tensor) -> Conditioning:
    """Weighted sum of conditionings (weights sum to 1): linear prompt interpolation."""
    out: Conditioning = {}
    for key in conds[0]:
        stack = torch.stack([c[key] for c in conds])
        w = weights.to(stack.device, stack.dtype).view(-1, *([1] * (stack.dim() - 1)))
        out[key] = (w * stack).sum(dim=0)
    return out


@dataclass(frozen=True)
class BlendSnapshot:
    """The current blend, for saving as a mood: each mood's weight and text, and the mix."""

    weights: Mapping[str, float]
    texts: Mapping[str, str]
    conditioning: Conditioning


class PromptBlend:
    """The moods' prompts, editable live, blended at the controls' point in mood space.

    Parameters
    ----------
    moods
        The show's ``[[moods]]`` (empty: one prompt, ``spec.prompt``, named ``"prompt"``).
    spec
        ``[diffusion]``: the prompt and negative of moods that give none.
    space
        Where the controls put the body among the moods (``None`` without moods).
    encoder
        The cached text encoder.
    embedding_where
        ``key -> "file:line: key"`` for errors about saved embeddings.
    """

    def __init__(self, moods: Sequence[MoodSpec], spec: DiffusionSpec, space: MoodSpace | None,
                 encoder: PromptEncoder, embedding_where: Any = None) -> None:
        self.encoder = encoder
        self.space = space
        self.guided = spec.guidance > 1.0
        self.names = [m.name for m in moods] or [PROMPT_NAME]
        self._texts = ([m.prompt if m.prompt is not None else spec.prompt for m in moods]
                       or [spec.prompt])
        self._negatives = ([m.negative if m.negative is not None else spec.negative
                            for m in moods] or [spec.negative])
        self._lock = threading.Lock()
        self._pending: dict[int, str] = {}
        self._last: BlendSnapshot | None = None
        reference = encoder("")
        # Saved blends stand in for a text; their entry in _texts stays a label only.
        self._fixed: dict[int, Conditioning] = {}
        for i, mood in enumerate(moods):
            if mood.embedding is not None:
                where = (embedding_where(("moods", str(i), "embedding"))
                         if embedding_where else f"moods[{i}].embedding")
                self._fixed[i] = load_embedding(mood.embedding, reference, where)
                self._texts[i] = f"<{mood.embedding.name}>"
        upfront = {t for i, t in enumerate(self._texts) if i not in self._fixed}
        if self.guided:
            upfront |= set(self._negatives)
        for text in sorted(upfront):
            encoder(text)  # every prompt encoded up front: no hitch at the first blend

    # -- live prompting (called from any thread) -----------------------------------------
    def set_prompt(self, name: str, text: str) -> None:
        """Give mood ``name`` a new prompt; it is encoded at the next image.

        Raises
        ------
        KeyError
            No mood has that name (the message lists the names).
        """
        if name not in self.names:
            raise KeyError(f"no mood named {name!r} (moods: {', '.join(self.names)})")
        with self._lock:
            self._pending[self.names.index(name)] = text

    def texts(self) -> dict[str, str]:
        """Each mood's current prompt (saved embeddings as ``<file>``)."""
        with self._lock:
            pending = dict(self._pending)
        return {n: pending.get(i, t) for i, (n, t) in enumerate(zip(self.names, self._texts,
                                                                     strict=True))}

    # -- the render thread ---------------------------------------------------------------
    def weights(self, controls: Controls) -> torch.Tensor:
        """Each mood's weight at the controls (``[1.0]`` without moods)."""
        if self.space is None:
            return torch.ones(1)
        return self.space.weights(controls)

    def conditioning(self, controls: Controls) -> tuple[Conditioning, Conditioning | None]:
        """The blended positive (and, when guided, negative) conditioning at ``controls``."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for i, text in pending.items():
            self._texts[i] = text
            self._fixed.pop(i, None)
            _log.info("prompt %s: %r", self.names[i], text)
        weights = self.weights(controls)
        conds = [self._fixed.get(i) or self.encoder(t) for i, t in enumerate(self._texts)]
        positive = mix(conds, weights)
        negative = (mix([self.encoder(t) for t in self._negatives], weights)
                    if self.guided else None)
        self._last = BlendSnapshot(
            weights={n: float(w) for n, w in zip(self.names, weights, strict=True)},
            texts=dict(zip(self.names, self._texts, strict=True)),
            conditioning=positive,
        )
        return positive, negative

    @property
    def last(self) -> BlendSnapshot | None:
        """The blend of the latest image (``None`` before the first)."""
        return self._last

    # -- rehearsal: the HUD line and ``m`` ----------------------------------------------
    def hud_text(self) -> str:
        """The two strongest moods of the latest image with their weights and prompts
        (every prompt before the first image)."""
        last, texts = self._last, self.texts()
        if last is None:
            return "prompt: " + " | ".join(f"{n}: {t[:24]}" for n, t in texts.items())
        top = sorted(last.weights.items(), key=lambda kv: -kv[1])[:2]
        return "prompt " + " | ".join(f"{w:.0%} {n}: {texts[n][:28]!r}" for n, w in top
                                      if w >= 0.01)

    def save(self, path: Path) -> str:
        """Save the latest image's blend as ``path`` (.safetensors); returns the TOML lines
        of the mood entry that uses it (``""`` before the first image)."""
        from installation.generator.diffusion.saving import save_blend

        return "" if self._last is None else save_blend(self._last, path)


def show_prompts(show: Show, model: LoadedModel) -> PromptBlend:
    """The show's prompts, blended where its moods are (the source's and each stage's own)."""
    space = MoodSpace(show.generator, show.moods) if show.moods else None
    return PromptBlend(show.moods, show.diffusion, space, PromptEncoder(model),
                       embedding_where=lambda key: key_where(show.path, key))


def pipeline_kwargs(positive: Conditioning, negative: Conditioning | None) -> dict[str, Any]:
    """Conditioning as the diffusers pipelines take it (``negative_`` prefixed keys)."""
    kwargs: dict[str, Any] = dict(positive)
    if negative is not None:
        kwargs.update({f"negative_{k}": v for k, v in negative.items()})
    return kwargs
