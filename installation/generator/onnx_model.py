"""Models the artist brings as ONNX files, run by ONNX Runtime.

ONNX is what most tools can export to (PyTorch's ``torch.onnx.export``, TensorFlow through
tf2onnx, Keras, JAX...), and TorchScript is deprecated upstream. Two uses, one contract check
each, both at load with a dummy forward, so a breach is one line naming the file:

- a **source** (``model = "onnx"``): latent ``(1, latent_dim)`` float32 -> images
  ``(1, 3, H, W)``, any ``H, W >= 8`` (scaled to cover ``generator.size``);
- an **image stage** (``kind = "model"``): image ``(1, 3, H, W)`` -> the same shape.

ONNX Runtime is an optional dependency (the ``onnx`` extra). Sessions use the CUDA provider
when the generator runs on CUDA and the provider is installed, else the CPU provider.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from installation.errors import ModelError
from installation.generator.models import check_images, failure_reason


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ModelError("ONNX models need the onnx extra: pip install -e '.[onnx]'") from None
    return onnxruntime


class OnnxSession:
    """One ONNX Runtime session with a single float input and a single output.

    Raises
    ------
    ModelError
        One line naming the file: missing, not an ONNX model, or not one input and output.
    """

    def __init__(self, path: Path, device: torch.device) -> None:
        ort = _onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: model file not found")
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: warnings would spam the show's log
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as error:  # onnxruntime raises its own types for bad files
            raise ModelError(f"{self.path}: not a loadable ONNX model "
                             f"({failure_reason(error)})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{self.path}: must have one input and one output, has "
                             f"{len(inputs)} and {len(outputs)}")
        self.input = inputs[0]
        if self.input.type != "tensor(float)":
            raise ModelError(f"{self.path}: input must be float32 (tensor(float)), is "
                             f"{self.input.type}")
        self.device = device

    def static_shape(self) -> list[int | None]:
        """The input's dimensions (``None`` where symbolic)."""
        return [d if isinstance(d, int) else None for d in self.input.shape]

    def run(self, x: torch.Tensor) -> torch.Tensor:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        out = self.session.run(None, {self.input.name: array})[0]
        return torch.from_numpy(np.asarray(out)).to(self.device)

    def probe(self, x: torch.Tensor, what: str) -> torch.Tensor:
        """Run the dummy forward of the contract check."""
        try:
            out = self.run(x)
        except Exception as error:  # the artist's model: any failure is a contract mismatch
            raise ModelError(f"{self.path}: forward of a {tuple(x.shape)} float {what} failed "
                             f"({failure_reason(error)})") from None
        if not out.is_floating_point():
            raise ModelError(f"{self.path}: must return float images, returned {out.dtype}")
        return out.float()


class OnnxSource:
    """``model = "onnx"``: an ONNX latent -> image model as a chain source."""

    def __init__(self, path: Path, latent_dim: int, size: tuple[int, int],
                 device: torch.device, signed: bool) -> None:
        from installation.generator.models import fit_cover

        self._fit_cover = fit_cover
        self.session = OnnxSession(path, device)
        shape = self.session.static_shape()
        if len(shape) != 2:
            raise ModelError(f"{path}: input must be a latent batch (1, latent_dim), has rank "
                             f"{len(shape)}")
        if shape[1] is not None and shape[1] != latent_dim:
            raise ModelError(f"{path}: takes latents of {shape[1]} values, but "
                             f"generator.latent_dim = {latent_dim}")
        self.latent_dim = latent_dim
        self.size = size
        self.signed = signed
        z = torch.randn(1, latent_dim, generator=torch.Generator().manual_seed(0))
        check_images(self.session.probe(z, "latent batch"), Path(path), batch=1, signed=signed,
                     what="latent")

    def render(self, z: torch.Tensor) -> torch.Tensor:
        images = self.session.run(z[None].float())
        if self.signed:
            images = images * 0.5 + 0.5
        return self._fit_cover(images.clamp(0.0, 1.0), *self.size)[0].permute(1, 2, 0)


def check_image_model(session_or_module: Any, path: Path, size: tuple[int, int],
                      signed: bool) -> None:
    """Prove an image -> image model keeps the contract on a seeded image at ``size``."""
    width, height = size
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    if signed:
        x = x * 2.0 - 1.0
    if isinstance(session_or_module, OnnxSession):
        out = session_or_module.probe(x, "image")
    else:
        try:
            with torch.inference_mode():
                out = session_or_module(x)
        except Exception as error:  # the artist's code: any failure is a contract mismatch
            raise ModelError(f"{path}: forward of a (1, 3, {height}, {width}) float image "
                             f"failed ({failure_reason(error)})") from None
    check_images(out, Path(path), batch=1, signed=signed, what="image", shape=(height, width),
                 key="value_range of the stage")
