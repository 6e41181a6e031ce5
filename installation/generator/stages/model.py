"""``kind = "model"``: an image-to-image model the artist brings (TorchScript or ONNX).

For example a fast style-transfer network (Johnson et al. 2016) exported from elsewhere. The
contract: one float image ``(1, 3, H, W)`` in, the same shape out, values in 0..1 (or -1..1
with ``value_range = "-1..1"``), at the generator's size. It is checked at load with a dummy
forward (one line naming the file on a breach), and the chain bypasses the stage for any image
where it fails at run time. Runs in float32 (artists' models are not always half-safe).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from installation.errors import ModelError
from installation.generator.models import load_torchscript_file
from installation.generator.onnx_model import OnnxSession, check_image_model
from installation.messages import Controls
from installation.show import Show, StageSpec


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, value))


@dataclass
class ModelStage:
    """Runs ``forward`` (a TorchScript module or an ONNX session) on each image."""

    spec: StageSpec
    forward: object
    device: torch.device
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.spec.label

    def __call__(self, image: torch.Tensor, controls: Controls) -> torch.Tensor:
        spec = self.spec
        mix = spec.mix * (_clip01(controls.get(spec.mix_control, 1.0))
                          if spec.mix_control else 1.0)
        if mix <= 0.0:
            return image
        signed = spec.value_range == "-1..1"
        x = image.float()
        if signed:
            x = x * 2.0 - 1.0
        with torch.inference_mode():
            run = self.forward.run if isinstance(self.forward, OnnxSession) else self.forward
            out = run(x)  # type: ignore[operator]
            if signed:
                out = out * 0.5 + 0.5
            out = out.to(image.dtype).clamp(0.0, 1.0)
            return out if mix >= 1.0 else torch.lerp(image, out, mix)

    def reset(self) -> None:
        return None  # no state between images


def build(spec: StageSpec, show: Show, device: torch.device, dtype: torch.dtype) -> ModelStage:
    """Load and check the model of a ``kind = "model"`` stage."""
    assert spec.path is not None  # StageSpec refuses a model stage without one
    size = show.generator.size
    signed = spec.value_range == "-1..1"
    forward: object
    if spec.path.suffix.lower() == ".onnx":
        session = OnnxSession(spec.path, device)
        shape = session.static_shape()
        if len(shape) != 4:
            raise ModelError(f"{spec.path}: input must be an image (1, 3, H, W), has rank "
                             f"{len(shape)}")
        width, height = size
        for got, want, what in ((shape[1], 3, "channels"), (shape[2], height, "height"),
                                (shape[3], width, "width")):
            if got is not None and got != want:
                raise ModelError(f"{spec.path}: takes images of {got} {what}, the generator"
                                 f" makes {want} (generator.size = [{width}, {height}])")
        forward = session
    else:
        module = load_torchscript_file(spec.path)
        forward = module
    check_image_model(forward, spec.path, size, signed)
    if not isinstance(forward, OnnxSession):
        forward = forward.to(device)  # type: ignore[attr-defined]
    return ModelStage(spec, forward, device)
