"""Rehearsal's ``m`` with prompts: the current blend saved as a mood's embedding."""

from __future__ import annotations

import json
from pathlib import Path

from installation.generator.diffusion.prompts import BlendSnapshot


def save_blend(snapshot: BlendSnapshot, path: Path) -> str:
    """Write the blend's conditioning to ``path`` (.safetensors, with the weights and texts
    as metadata); returns the mood's TOML lines (``embedding = "..."`` and a comment)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in
               snapshot.conditioning.items()}
    meta = {"weights": json.dumps(dict(snapshot.weights)),
            "texts": json.dumps(dict(snapshot.texts))}
    save_file(tensors, str(path), metadata=meta)
    recipe = " + ".join(f'{w:.2f} "{snapshot.texts[n]}"' for n, w in
                        sorted(snapshot.weights.items(), key=lambda kv: -kv[1]) if w >= 0.005)
    recipe = recipe.replace("\n", " ")
    return f"# blend: {recipe}\nembedding = \"{path.parent.name}/{path.name}\"\n"
