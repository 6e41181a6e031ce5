"""Saving the generator's current latent as a mood the show can use (rehearsal's ``m``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from installation.messages import Controls
from installation.show import Show


def save_mood(show: Show, latent: Any, controls: Controls | None, t: float) -> Path:
    """Write ``latent`` to ``moods/mood-N.npy`` beside the show and append a ``[[moods]]``
    entry that uses it, placed where the body is now in the walk's own coordinates.

    Parameters
    ----------
    show
        The running show (its file is appended to).
    latent
        The generator's current latent (a torch tensor).
    controls
        The controls of the last frame (``None``: the walk's neutral place).
    t
        Engine time, written in the entry's comment.

    Returns
    -------
    Path
        The ``.npy`` file.
    """
    folder = show.path.parent / "moods"
    folder.mkdir(exist_ok=True)
    n = len(list(folder.glob("mood-*.npy"))) + 1
    path = folder / f"mood-{n}.npy"
    np.save(path, latent.cpu().float().numpy().astype(np.float32))
    spec = show.generator
    calm = controls.get(spec.mood_control, 0.5) if controls else 0.5
    arousal = controls.get(spec.energy_control, 0.3) if controls else 0.3
    with show.path.open("a") as handle:
        handle.write(
            f"\n[[moods]]  # saved in rehearsal at t={t:.1f} s\n"
            f'name = "mood-{n}"\nlatent = "moods/{path.name}"\n'
            f"position = [{calm:.3f}, {arousal:.3f}]\n"
        )
    return path
