"""Diffusion as the magic brush (issue 12): the artist's own diffusion model, never downloaded.

* :mod:`.offline` imports diffusers with the hub switched off, or says how to install it;
* :mod:`.loading` loads a local diffusers folder or a single ``.safetensors`` checkpoint;
* :mod:`.schedule` the few-step turbo/LCM timestep schedules;
* :mod:`.prompts` prompt embeddings as mood anchors, encoded once, blended by the body;
* :mod:`.source` txt2img as a generator source (``latent_dim``, ``render_controls``) and
  :func:`~.source.build_source`, ``SOURCES["diffusion"]`` in ``generator/sources.py``;
* :mod:`.stage` img2img as an image stage (``name``, ``__call__(image, controls)``, ``reset``),
  built by ``generator/stages/diffusion.py`` for ``[[generator.stages]] kind = "diffusion"``;
* :mod:`.saving` rehearsal's ``m``: the current blend saved as a mood;
* :mod:`.tiny` a tiny random pipeline for tests, benchmarks and stills (proves the path only).

Nothing here imports diffusers at module import time: a show without diffusion never pays
for it, and a missing extra is a one-line error only where a show asks for diffusion.
"""
