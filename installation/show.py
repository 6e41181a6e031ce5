"""The show: ``show.toml`` loaded into typed, frozen, validated settings.

A show names the streams it needs, how each feature maps onto a control, the generator and
its latent walk, the shader passes and the output. Every key is documented by the ``doc``
metadata of its field; ``docs/show-reference.md`` is generated from these classes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from installation.errors import ShowError
from installation.features.catalog import MAPPED, STREAM_TYPES, feature_names
from installation.features.state import COMPOSITE_WEIGHTS, STATE_FEATURES, STATE_STREAM
from installation.generator.names import ACTIVATION_NAMES, DEFAULT_ACTIVATIONS
from installation.render.graph import GraphError, PassSpec, plan_passes
from installation.tomlconfig import TomlLocator, bounds, format_path, load_dataclass

# Control and feature values live far inside this; a larger number in a show is a typo that
# would overflow a plot or a shader's float (issue 17: idle = 1e308).
VALUE_LIMIT = 1e6
SEED_LIMIT = 2**32 - 1  # numpy's legacy seeding and most tools take 32-bit seeds
# How many of each table a show may hold: far beyond a real piece, short of a frame that takes
# minutes (200 passes or 2,000 mappings hung a replay past 60 s).
MAX_COUNTS = {"streams": 16, "mappings": 256, "passes": 32, "moods": 64,
              "generator.stages": 8}
Curve = Literal["linear", "smoothstep", "ease_in", "ease_out"]


@dataclass(frozen=True)
class ShowMeta:
    """``[show]``: about the piece."""

    title: str = field(default="Untitled", metadata=bounds(doc="Name of the piece."))
    artist: str = field(default="", metadata=bounds(doc="Who made it."))


@dataclass(frozen=True)
class StreamSpec:
    """``[streams.KEY]``: a stream the show listens to; KEY names it in feature paths."""

    type: str = field(metadata=bounds(doc="LSL stream type to match, e.g. ECG or EEG."))
    name: str = field(default="", metadata=bounds(doc="Only a stream with exactly this name."))
    source_id: str = field(default="", metadata=bounds(doc="Only a stream with this source_id."))
    hostname: str = field(default="", metadata=bounds(doc="Only a stream from this host."))
    channel: int = field(
        default=0,
        metadata=bounds(ge=0, le=1023,
                        doc="Channel used by single-channel extractors (all but EEG)."),
    )
    required: bool = field(
        default=True, metadata=bounds(doc="Replay refuses a recording without this stream.")
    )

    def __post_init__(self) -> None:
        for key in ("type", "name", "source_id", "hostname"):
            value = getattr(self, key)
            # LSL selects streams by an XPath 1.0 query, which cannot quote a text with both.
            if "'" in value and '"' in value:
                raise ValueError(f"{key} {value!r} holds both quote characters (' and \"),"
                                 " which no LSL query can match")
            if any(ord(c) < 32 for c in value):
                raise ValueError(f"{key} {value!r} holds a control character")
        if self.type.upper() not in STREAM_TYPES:
            raise ValueError(
                f"type {self.type!r} has no feature extractor (known: {', '.join(STREAM_TYPES)})"
            )


@dataclass(frozen=True)
class MappingSpec:
    """``[[mappings]]``: one feature drives one control."""

    control: str = field(metadata=bounds(doc="Control name, used by passes and the generator."))
    feature: str = field(metadata=bounds(doc="STREAM_KEY.feature, e.g. ecg.heart_rate."))
    in_range: tuple[float, float] = field(
        default=(0.0, 1.0), metadata=bounds(ge=-VALUE_LIMIT, le=VALUE_LIMIT,
                                            doc="Feature values mapped to the ends of out_range.")
    )
    out_range: tuple[float, float] = field(
        default=(0.0, 1.0), metadata=bounds(ge=-VALUE_LIMIT, le=VALUE_LIMIT,
                                            doc="Control values at the ends of in_range.")
    )
    curve: Curve = field(default="linear", metadata=bounds(doc="Shape of the mapping."))
    invert: bool = field(default=False, metadata=bounds(doc="Swap the ends of out_range."))
    smoothing_s: float = field(
        default=0.0, metadata=bounds(ge=0.0, le=60.0, doc="Exponential smoothing time constant.")
    )
    idle: float = field(
        default=0.0, metadata=bounds(ge=-VALUE_LIMIT, le=VALUE_LIMIT,
                                     doc="Control value when the feature is not available.")
    )
    idle_fade_s: float = field(
        default=2.0, metadata=bounds(ge=0.0, le=60.0, doc="Time constant of the fade to idle.")
    )
    delay_s: float = field(
        default=0.0,
        metadata=bounds(ge=0.0, le=30.0, doc="Delay of the control behind the body (causal:"
                        " the value from delay_s ago; the idle value until then)."),
    )
    relative_s: float = field(
        default=0.0,
        metadata=bounds(ge=0.0, le=3600.0, doc="0: in_range is fixed. Otherwise (10 s or"
                        " more) the feature's own range takes its place: the 25th to 75th"
                        " percentile of its trustworthy values over the last relative_s"
                        " seconds, once 10 s of them exist (at least a tenth of in_range"
                        " wide); in_range until then, and again after the stream is lost (a"
                        " new visitor starts afresh)."),
    )
    at_s: float = field(
        default=0.23,
        metadata=bounds(ge=0.0, le=0.4, doc="Feature STREAM.pulse_at only: when after each"
                        " R-peak its pulse reaches the screen (0.23 s: where people feel"
                        " their heartbeat). Forecast below the engine's latency, a delay line"
                        " on the detected beat above it; see docs/latency.md."),
    )

    def __post_init__(self) -> None:
        if self.in_range[0] == self.in_range[1]:
            raise ValueError("in_range needs two different values")
        if "." not in self.feature:
            raise ValueError(f"feature {self.feature!r} must be STREAM_KEY.feature")
        if 0.0 < self.relative_s < 10.0:
            # The range needs 10 s of the feature: a shorter window would never have it.
            raise ValueError("relative_s must be 0 (off) or at least 10 s")

    @property
    def stream(self) -> str:
        return self.feature.split(".", 1)[0]

    @property
    def feature_name(self) -> str:
        return self.feature.split(".", 1)[1]


@dataclass(frozen=True)
class StageSpec:
    """``[[generator.stages]]``: an image -> image stage after the generator's model, in order.

    ``kind = "dream"`` amplifies what a network sees (DeepDream, on the trained GAN's
    discriminator, the VAE's encoder or your TorchScript network); ``kind = "model"`` runs your
    TorchScript or ONNX image-to-image model (e.g. a style-transfer network); ``kind =
    "diffusion"`` repaints the image with your diffusion model (img2img; the model is
    ``[diffusion]``'s, see docs/diffusion.md). Keys that do not belong to a stage's kind are
    ignored. See docs/generator.md.
    """

    kind: Literal["dream", "model", "diffusion"] = field(
        metadata=bounds(doc='Stage: "dream" (DeepDream), "model" (your image-to-image model) or'
                        ' "diffusion" (your diffusion model repaints the image; see'
                        ' [diffusion]).')
    )
    name: str = field(default="", metadata=bounds(doc="Name in log lines (default: the kind)."))
    enabled: bool = field(default=True, metadata=bounds(doc="false: skip the stage."))
    path: Path | None = field(
        default=None,
        metadata=bounds(doc="model: the .pt (TorchScript) or .onnx file; dream: a TorchScript"
                        " network to dream on (default: the generator's own model file)."),
    )
    network: Literal["auto", "discriminator", "encoder", "torchscript"] = field(
        default="auto",
        metadata=bounds(doc="dream: the network to dream on; auto: the GAN's discriminator,"
                        " the VAE's encoder, or the TorchScript file in path."),
    )
    layer: int = field(
        default=2, metadata=bounds(ge=1, le=16, doc="dream: block whose activations grow (1:"
                                   " fine texture, higher: larger motifs; capped at the depth).")
    )
    octaves: int = field(
        default=3, metadata=bounds(ge=1, le=8, doc="dream: scales dreamt on, coarse to fine.")
    )
    octave_scale: float = field(
        default=1.4, metadata=bounds(ge=1.05, le=3.0, doc="dream: size ratio between octaves.")
    )
    steps: int = field(
        default=3, metadata=bounds(ge=1, le=64, doc="dream: gradient steps per octave.")
    )
    step_size: float = field(
        default=0.012, metadata=bounds(gt=0.0, le=0.25, doc="dream: largest change of a pixel"
                                       " (0..1) in one step, at intensity 1.")
    )
    jitter: int = field(
        default=4, metadata=bounds(ge=0, le=64, doc="dream: random shift (pixels) per step, so"
                                   " the dream has no grid.")
    )
    intensity: float = field(
        default=1.0, metadata=bounds(ge=0.0, le=8.0, doc="dream: strength; multiplies step_size.")
    )
    intensity_control: str = field(
        default="", metadata=bounds(doc="dream: control (0..1) scaling the intensity, e.g."
                                    " arousal; empty: always full.")
    )
    feedback: bool = field(
        default=False, metadata=bounds(doc="dream: each image dreams on the last one, zoomed"
                                       " and rotated (the classic DeepDream video).")
    )
    feedback_mix: float = field(
        default=0.85, metadata=bounds(ge=0.0, le=1.0, doc="dream, feedback: share of the last"
                                      " dream in the next start image (the rest: the model's).")
    )
    zoom: float = field(
        default=1.01, metadata=bounds(ge=0.8, le=1.25, doc="dream, feedback: zoom per image.")
    )
    rotate: float = field(
        default=0.2, metadata=bounds(ge=-15.0, le=15.0, doc="dream, feedback: degrees per image.")
    )
    zoom_control: str = field(
        default="", metadata=bounds(doc="dream, feedback: control (0..1) adding zoom_kick, e.g."
                                    " pulse for a kick on each heartbeat.")
    )
    zoom_kick: float = field(
        default=0.03, metadata=bounds(ge=0.0, le=0.25, doc="dream, feedback: extra zoom at"
                                      " zoom_control 1.")
    )
    strength: float = field(
        default=0.5, metadata=bounds(ge=0.0, le=1.0, doc="diffusion: how much of the image is"
                                     " repainted (0: none, 1: all) when strength_control is"
                                     " empty.")
    )
    strength_control: str = field(
        default="", metadata=bounds(doc="diffusion: control (0..1) setting the strength"
                                    " through strength_range, e.g. arousal.")
    )
    strength_range: tuple[float, float] = field(
        default=(0.2, 0.7), metadata=bounds(ge=0.0, le=1.0, doc="diffusion: strengths at"
                                            " strength_control 0 and 1.")
    )
    mix: float = field(
        default=1.0, metadata=bounds(ge=0.0, le=1.0, doc="Share of the stage's output over its"
                                     " input (1: all stage).")
    )
    mix_control: str = field(
        default="", metadata=bounds(doc="Control (0..1) scaling mix; empty: always mix.")
    )
    value_range: Literal["0..1", "-1..1"] = field(
        default="0..1", metadata=bounds(doc="model: value range the model takes and returns.")
    )
    seed: int = field(default=0, metadata=bounds(ge=0, le=SEED_LIMIT,
                                                 doc="dream: seed of the jitter."))

    def __post_init__(self) -> None:
        if self.kind == "model" and self.path is None:
            raise ValueError('kind = "model" needs path = "model file" (.pt or .onnx)')
        if self.kind == "dream" and self.network == "torchscript" and self.path is None:
            raise ValueError('network = "torchscript" needs path = "network file"')

    @property
    def label(self) -> str:
        return self.name or self.kind


@dataclass(frozen=True)
class NcaSpec:
    """``[generator.nca]``: the living image (``model = "nca"``), see docs/nca.md.

    The automaton grows the artist's image from one cell; a heartbeat cuts a wound into it,
    sized by one control; another control steers how fast it grows back; when nobody is
    there it heals back to the image.
    """

    steps_per_image: int = field(
        default=4, metadata=bounds(ge=1, le=64, doc="Automaton steps per generated image"
                                   " (fixed, so a replay is deterministic).")
    )
    growth_control: str = field(
        default="calm", metadata=bounds(doc="Control (0..1) steering the growth rate; empty:"
                                        " always the top of growth_rate.")
    )
    growth_rate: tuple[float, float] = field(
        default=(0.1, 0.5), metadata=bounds(ge=0.0, le=1.0, doc="Share of cells updating per"
                                            " step at growth control 0 and 1 (trained at 0.5).")
    )
    heal_rate: float = field(
        default=0.5, metadata=bounds(ge=0.0, le=1.0, doc="Share of cells updating per step"
                                     " while nobody is there.")
    )
    wound_control: str = field(
        default="pulse", metadata=bounds(doc="Control whose rise wounds the image (a heartbeat's"
                                         " pulse); empty: no wounds.")
    )
    wound_rise: float = field(
        default=0.3, metadata=bounds(gt=0.0, le=1.0, doc="Rise of wound_control between two"
                                     " images that counts as a beat.")
    )
    wound_size_control: str = field(
        default="arousal", metadata=bounds(doc="Control (0..1) sizing the wound; empty: the"
                                           " middle of wound_radius.")
    )
    wound_radius: tuple[float, float] = field(
        default=(0.15, 0.45), metadata=bounds(ge=0.0, le=2.0, doc="Wound radius at wound size"
                                              " 0 and 1, as a share of the image's radius.")
    )
    regrow_on_leave: bool = field(
        default=True, metadata=bounds(doc="When the visitor leaves, grow the image afresh from"
                                      " one cell (false: let it heal its wounds in place).")
    )
    lifespan_steps: int = field(
        default=0, metadata=bounds(ge=0, le=1_000_000, doc="Grow the colony afresh after this"
                                   " many full-rate steps (for a briefly trained automaton that"
                                   " drifts with age); 0: it lives for ever.")
    )

    def __post_init__(self) -> None:
        if self.growth_rate[0] > self.growth_rate[1] or self.wound_radius[0] > self.wound_radius[1]:
            raise ValueError("growth_rate and wound_radius need [low, high] with low <= high")


@dataclass(frozen=True)
class GeneratorSpec:
    """``[generator]``: the neural image generator and its walk through latent space."""

    model: Literal["cppn", "torchscript", "onnx", "vae", "gan", "nca", "diffusion"] = field(
        default="cppn",
        metadata=bounds(doc="Generator: seeded CPPN, your TorchScript or ONNX model, a VAE or"
                        " GAN trained with `installation train`, a trained neural cellular"
                        " automaton (nca; see [generator.nca]), or your diffusion model"
                        " (txt2img; see [diffusion])."),
    )
    path: Path | None = field(
        default=None,
        metadata=bounds(doc="Model file for torchscript/onnx/vae/gan/nca, relative to show.toml."),
    )
    output_range: Literal["0..1", "-1..1"] = field(
        default="0..1", metadata=bounds(doc="Value range of a TorchScript or ONNX model's images.")
    )
    architecture: Literal["fourier", "residual", "radial"] = field(
        default="fourier", metadata=bounds(doc="CPPN architecture (see docs/generator.md).")
    )
    activations: tuple[str, ...] = field(
        default=DEFAULT_ACTIVATIONS,
        metadata=bounds(doc="CPPN activations cycled over the layers, e.g. [\"sin\", \"gauss\"]."),
    )
    seed: int = field(default=7, metadata=bounds(ge=0, le=SEED_LIMIT,
                                                 doc="Seed of weights and walk."))
    size: tuple[int, int] = field(
        default=(256, 144), metadata=bounds(ge=8, le=4096, doc="Generated image width, height.")
    )
    rate: float = field(
        default=15.0, metadata=bounds(ge=0.1, le=240.0, doc="Generated images per second.")
    )
    latent_dim: int = field(default=8, metadata=bounds(ge=1, le=512, doc="Latent size."))
    hidden: int = field(default=32, metadata=bounds(ge=4, le=512, doc="CPPN hidden width."))
    layers: int = field(default=5, metadata=bounds(ge=1, le=16, doc="CPPN hidden layers."))
    detail: float = field(
        default=2.0, metadata=bounds(gt=0.0, le=64.0, doc="Spatial frequency of the pattern.")
    )
    mood_control: str = field(
        default="calm", metadata=bounds(doc="Control (0..1) moving between the two moods.")
    )
    energy_control: str = field(
        default="energy", metadata=bounds(doc="Control (0..1) setting how fast the walk wanders.")
    )
    pulse_control: str = field(
        default="pulse", metadata=bounds(doc="Control (0..1) kicking the latent on each beat.")
    )
    drift: float = field(
        default=0.35, metadata=bounds(ge=0.0, le=10.0, doc="Wander amplitude at full energy.")
    )
    pulse_kick: float = field(
        default=0.25, metadata=bounds(ge=0.0, le=10.0, doc="Latent kick at pulse 1.")
    )
    max_step: float = field(
        default=0.2, metadata=bounds(gt=0.0, le=10.0, doc="Largest latent move per image.")
    )
    valence_control: str = field(
        default="", metadata=bounds(doc="Optional third mood coordinate (0..1); empty: none.")
    )
    temperature_control: str = field(
        default="", metadata=bounds(doc="Control (0..1) letting the walk wander from the moods.")
    )
    temperature: float = field(
        default=0.3, metadata=bounds(ge=0.0, le=10.0, doc="Wander from the moods at temperature 1.")
    )
    mood_spread: float = field(
        default=0.35, metadata=bounds(gt=0.0, le=10.0, doc="How far a mood's pull reaches.")
    )
    image_steps: int = field(
        default=150, metadata=bounds(ge=1, le=5000, doc="GAN: optimisation steps that find the"
                                     " latent of an image mood (seeded, bounded).")
    )
    stages: tuple[StageSpec, ...] = field(
        default=(), metadata=bounds(doc="Image stages after the model: [[generator.stages]].")
    )
    nca: NcaSpec = field(default_factory=NcaSpec, metadata=bounds(doc="The living image's"
                         " behaviour (model = \"nca\"): see [generator.nca]."))

    def __post_init__(self) -> None:
        unknown = [a for a in self.activations if a not in ACTIVATION_NAMES]
        if unknown or not self.activations:
            raise ValueError(
                f"activations: unknown {unknown} (known: {', '.join(ACTIVATION_NAMES)})"
            )
        if self.model not in ("cppn", "diffusion") and self.path is None:
            raise ValueError(f"model = {self.model!r} needs path = \"model file\"")


@dataclass(frozen=True)
class MoodSpec:
    """``[[moods]]``: an anchor in latent space and where it sits among the controls."""

    name: str = field(metadata=bounds(doc="Name of the mood."))
    position: tuple[float, ...] = field(
        metadata=bounds(ge=0.0, le=1.0, doc="[calm, arousal] or [calm, arousal, valence], each"
                        " 0..1.")
    )
    seed: int | None = field(default=None, metadata=bounds(ge=0, le=SEED_LIMIT,
                                                           doc="Anchor from a seed."))
    latent: Path | None = field(
        default=None, metadata=bounds(doc="Anchor from a saved latent vector (.npy).")
    )
    image: Path | None = field(
        default=None, metadata=bounds(doc="Anchor from an image: the VAE's encoder, or the"
                                      " GAN latent whose image is closest to it.")
    )
    # -- diffusion (issue 12): a text prompt is an anchor of the diffusion model's conditioning.
    prompt: str | None = field(
        default=None, metadata=bounds(doc="Diffusion: the text this mood paints (its embedding"
                                      " is the anchor); seed/latent then optionally set the"
                                      " noise anchor.")
    )
    negative: str | None = field(
        default=None, metadata=bounds(doc="Diffusion: what this mood avoids (used when"
                                      " diffusion.guidance > 1).")
    )
    embedding: Path | None = field(
        default=None, metadata=bounds(doc="Diffusion: a prompt blend saved in rehearsal (m),"
                                      " .safetensors; instead of prompt.")
    )

    @property
    def paints(self) -> bool:
        """True when the mood is a diffusion prompt (text or saved embedding)."""
        return self.prompt is not None or self.embedding is not None

    def __post_init__(self) -> None:
        given = [k for k in ("seed", "latent", "image") if getattr(self, k) is not None]
        if self.prompt is not None and self.embedding is not None:
            raise ValueError(f"mood {self.name!r}: give prompt or embedding, not both")
        if self.paints:  # the noise anchor is optional: by default all prompts share one
            if len(given) > 1 or "image" in given:
                raise ValueError(f"mood {self.name!r}: a prompt mood takes at most one of"
                                 " seed, latent (its noise anchor)")
        elif len(given) != 1:
            raise ValueError(f"mood {self.name!r} needs exactly one of seed, latent, image"
                             " (or a prompt)")
        if len(self.position) not in (2, 3):
            raise ValueError(f"mood {self.name!r}: position needs 2 or 3 values")


@dataclass(frozen=True)
class DiffusionSpec:
    """``[diffusion]``: your diffusion model, as the txt2img source or the img2img stage.

    Used by ``[generator] model = "diffusion"`` (txt2img: the model paints the blended prompt)
    and by ``[[generator.stages]] kind = "diffusion"`` (img2img: the model repaints the image
    of the link before it, at the stage's ``strength``). These settings are the model's and
    are shared by both; a stage's strength and its control are the stage's own keys.
    Nothing is ever downloaded: see docs/diffusion.md.
    """

    path: Path | None = field(
        default=None,
        metadata=bounds(doc="Your model: a diffusers pipeline folder (sd-turbo, sdxl-turbo, SD"
                        " 1.x/2.x/XL) or a single .safetensors checkpoint."),
    )
    config: Path | None = field(
        default=None,
        metadata=bounds(doc="For a single .safetensors: a local diffusers folder of the same"
                        " architecture (its configs and tokenizer; weights not needed)."),
    )
    tiny_vae: Path | None = field(
        default=None,
        metadata=bounds(doc="Optional tiny VAE (TAESD, AutoencoderTiny folder): faster decode."),
    )
    scheduler: Literal["euler_a", "lcm"] = field(
        default="euler_a",
        metadata=bounds(doc="Sampler: Euler ancestral on a trailing schedule (turbo models)"
                        " or LCM (LCM-distilled models)."),
    )
    steps: int = field(default=1, metadata=bounds(ge=1, le=4, doc="Denoising steps per image"
                                                 " (the source's and each diffusion stage's)."))
    guidance: float = field(
        default=0.0,
        metadata=bounds(ge=0.0, le=20.0, doc="Classifier-free guidance (0: none, what turbo"
                        " models want; > 1 uses the negative prompts, at twice the cost)."),
    )
    size: tuple[int, int] | None = field(
        default=None,
        metadata=bounds(ge=16, le=2048, doc="Width, height the model paints at (multiples of"
                        " 8); unset: generator.size rounded up to a multiple of 8."),
    )
    prompt: str = field(
        default="", metadata=bounds(doc="The prompt of moods without one (and with no moods).")
    )
    negative: str = field(default="", metadata=bounds(doc="Negative prompt of those moods."))
    compile: bool = field(
        default=False,
        metadata=bounds(doc="torch.compile the UNet (slow first images, faster after; GPU)."),
    )

    def __post_init__(self) -> None:
        if self.size is not None and (self.size[0] % 8 or self.size[1] % 8):
            raise ValueError(f"size {list(self.size)}: width and height must be multiples of 8")


@dataclass(frozen=True)
class PassSpecToml:
    """``[[passes]]``: one shader pass. A plain list of passes is a chain (each reads the one
    above as ``u_input``); ``name`` and ``inputs`` make a graph (docs/passes.md)."""

    shader: Path | None = field(
        default=None, metadata=bounds(doc="GLSL fragment shader, relative to show.toml (particle"
                                      " passes: colours each point; optional)."),
    )
    uniforms: dict[str, str] = field(
        default_factory=dict, metadata=bounds(doc="Float uniform name -> control name.")
    )
    name: str = field(
        default="", metadata=bounds(doc="Name of the target this pass writes (default pass<i>);"
                                    " other passes read it by this name.")
    )
    inputs: dict[str, str] | None = field(
        default=None,
        metadata=bounds(doc="sampler2D uniform -> source: a pass name (this frame), NAME.prev"
                        " (its previous frame), its own name (its previous state), frame or"
                        " prev_frame (generated images). Absent: a chain pass."),
    )
    size: tuple[int, int] | None = field(
        default=None, metadata=bounds(ge=1, le=8192, doc="Target width, height in pixels"
                                      " (default: the output size times scale).")
    )
    scale: float = field(
        default=1.0, metadata=bounds(gt=0.0, le=4.0, doc="Target size as a factor of the"
                                     " output size.")
    )
    steps: int = field(
        default=1, metadata=bounds(ge=1, le=256, doc="Draws per frame, each reading the previous"
                                   " (simulations); particles: compute steps per frame.")
    )
    format: Literal["rgba8", "rgba16f", "rgba32f"] = field(
        default="rgba16f", metadata=bounds(doc="Texel format of the target.")
    )
    filter: Literal["linear", "nearest"] = field(
        default="linear", metadata=bounds(doc="How readers sample the target.")
    )
    wrap: Literal["clamp", "repeat"] = field(
        default="clamp", metadata=bounds(doc="Reads outside 0..1: clamp to the edge, or repeat"
                                         " (a torus, for simulations).")
    )
    mipmaps: bool = field(
        default=False, metadata=bounds(doc="Build mipmaps after each frame (textureLod blurs).")
    )
    integrals: dict[str, str] = field(
        default_factory=dict, metadata=bounds(doc="Float uniform name -> control name: the"
                                              " control's running integral over time (a"
                                              " phase from a rate).")
    )
    kind: Literal["fragment", "particles"] = field(
        default="fragment", metadata=bounds(doc="A fullscreen fragment shader, or particles.")
    )
    compute: Path | None = field(
        default=None, metadata=bounds(doc="Particles: GL 4.3 compute shader moving them.")
    )
    count: int = field(
        default=0, metadata=bounds(ge=0, le=1 << 24, doc="Particles: how many.")
    )
    seed: int = field(default=0, metadata=bounds(ge=0, doc="Particles: seed of their start."))
    blend: Literal["add", "alpha"] = field(
        default="add", metadata=bounds(doc="Particles: additive (light) or alpha blending.")
    )
    fade: float = field(
        default=0.0, metadata=bounds(ge=0.0, lt=1.0, doc="Particles: share of the last frame"
                                     " kept under the new points (trails; 0: none).")
    )
    point_size: float = field(
        default=1.0, metadata=bounds(gt=0.0, le=64.0, doc="Particles: point size in pixels.")
    )

    def to_spec(self) -> PassSpec:
        """The renderer's :class:`~installation.render.graph.PassSpec` for this entry."""
        return PassSpec(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class OutputSpec:
    """``[output]``: what the piece is rendered at."""

    size: tuple[int, int] = field(
        default=(640, 360), metadata=bounds(ge=16, le=4096, doc="Output width, height.")
    )
    fps: float = field(default=30.0, metadata=bounds(ge=1.0, le=240.0, doc="Frames per second."))
    pass_budget_s: float = field(
        default=2.0, metadata=bounds(ge=0.01, le=60.0, doc="A shader pass taking longer than"
                                     " this for one frame is turned off for the rest of the run"
                                     " (one logged line), as a pass that fails to compile is."
                                     " Gallery and rehearsal only: replay renders every pass, so"
                                     " that it stays byte-identical on a loaded machine.")
    )
    probe_limit_s: float = field(
        default=30.0, metadata=bounds(ge=0.0, le=600.0, doc="Replay, rehearsal and gallery"
                                      " first render one frame of the passes in a child process"
                                      " (a GPU draw that never returns cannot be stopped"
                                      " in-process); a pass not done within this many seconds"
                                      " ends replay and rehearsal (exit 2, naming its shader)"
                                      " and is turned off in the gallery. 0: no probe (a"
                                      " trusted show).")
    )
    screen: int = field(
        default=0, metadata=bounds(ge=0, le=64, doc="Gallery and rehearsal window: screen index (0:"
                                   " primary; --screen overrides).")
    )
    fullscreen: bool = field(
        default=True, metadata=bounds(doc="Gallery: cover the screen, letterboxed (--windowed"
                                      " overrides; rehearsal is windowed unless --fullscreen).")
    )
    latency_s: float = field(
        default=0.045, metadata=bounds(ge=0.0, le=1.0, doc="Gallery and rehearsal: time from a"
                                       " frame's engine time to its buffer swap (render +"
                                       " present), which at_s mappings subtract. With latency"
                                       " = \"measured\" the start value, until the engine has"
                                       " measured its own (median of the last 61 frames); with"
                                       " \"fixed\" the figure for good. Replay uses 0 (a video"
                                       " frame's time is its presentation time).")
    )
    latency: Literal["measured", "fixed"] = field(
        default="measured", metadata=bounds(doc="Gallery and rehearsal: \"measured\": the"
                                            " engine measures its pipeline latency live and"
                                            " at_s mappings subtract that; \"fixed\": they"
                                            " subtract latency_s as given (docs/latency.md).")
    )
    vsync: bool = field(
        default=True, metadata=bounds(doc="Gallery and rehearsal window: present in step with"
                                      " the display's refresh (no tearing).")
    )


@dataclass(frozen=True)
class IdleSpec:
    """``[idle]``: what the piece does when no one is there (no visitor present)."""

    after_s: float = field(
        default=5.0, metadata=bounds(ge=0.0, le=600.0, doc="Seconds with nobody there (no"
                                     " visitor present) before the piece goes idle.")
    )
    fade_s: float = field(
        default=4.0, metadata=bounds(ge=0.0, le=120.0, doc="Time constant of the ease into"
                                     " the idle state.")
    )
    return_s: float = field(
        default=0.5, metadata=bounds(ge=0.0, le=120.0, doc="Time constant of the ease from"
                                     " idle to an arriving visitor (0.5: turned to them"
                                     " within about 1.5 s).")
    )
    controls: dict[str, float] = field(
        default_factory=dict, metadata=bounds(ge=-VALUE_LIMIT, le=VALUE_LIMIT,
                                              doc="Control name -> value held while idle"
                                              " (overrides the mappings).")
    )
    breath_control: str = field(
        default="", metadata=bounds(doc="Control that swells slowly while idle, so the empty"
                                    " room still breathes; empty: none.")
    )
    breath_period_s: float = field(
        default=8.0, metadata=bounds(gt=0.5, le=120.0, doc="Period of the idle breath.")
    )
    breath_depth: float = field(
        default=0.3, metadata=bounds(ge=0.0, le=1.0, doc="Peak of the idle breath (0..depth).")
    )


@dataclass(frozen=True)
class SafetySpec:
    """``[safety]``: protection of the audience (WCAG 2.3.1 flash limits)."""

    flash_limit: bool = field(
        default=True,
        metadata=bounds(doc="Final pass that keeps flashing under 3 per second (WCAG 2.3.1)."
                        " Turn it off only to analyse a piece, never in front of people."),
    )


# Where each quantity of the visitor's state comes from when [visitor] sources is not given:
# the first declared stream of one of these types (in this order) and its feature.
DEFAULT_STATE_SOURCES: dict[str, tuple[tuple[str, ...], str]] = {
    "heart_rate": (("ECG", "PPG", "RR"), "heart_rate"),
    "hrv_rmssd": (("ECG", "RR", "PPG"), "hrv_rmssd"),
    "resp_rate": (("RSP", "ECG"), "resp_rate"),
    "eda_tonic": (("EDA",), "eda_tonic"),
    "eda_phasic": (("EDA",), "eda_phasic"),
    "scr_rate": (("EDA",), "scr_rate"),
    "engagement": (("EEG",), "engagement"),
    "alpha_rel": (("EEG",), "alpha_rel"),
}


@dataclass(frozen=True)
class VisitorSpec:
    """``[visitor]``: when a visitor is here, and their body relative to their own baseline.

    Mappings read the result as ``state.calm``, ``state.arousal``, ``state.calibrated`` and
    ``state.z_<quantity>`` (e.g. ``state.z_alpha_rel``): see docs/visitor-state.md.
    """

    arrive_s: float = field(
        default=0.5, metadata=bounds(ge=0.0, le=60.0, doc="Every required stream delivering"
                                     " good data this long: a visitor has arrived. Counted"
                                     " from when the good data began (a heart source: the"
                                     " first beat of the run that earned its trust).")
    )
    leave_s: float = field(
        default=2.0, metadata=bounds(ge=0.0, le=600.0, doc="A required stream without good"
                                     " data this long: the visitor has left.")
    )
    baseline_s: float = field(
        default=20.0, metadata=bounds(gt=0.0, le=600.0, doc="Calibration: seconds of the"
                                      " visitor's data that define their baseline.")
    )
    adapt_tau_s: float = field(
        default=300.0, metadata=bounds(gt=0.0, le=86400.0, doc="After calibration, time"
                                       " constant of the slowly adapting baseline.")
    )
    smooth_tau_s: float = field(
        default=3.0, metadata=bounds(ge=0.0, le=120.0, doc="Smoothing of the z-scores.")
    )
    gain: float = field(
        default=1.0, metadata=bounds(gt=0.0, le=20.0, doc="Slope of the 0..1 squash of calm"
                                     " and arousal (higher: more contrast).")
    )
    sources: dict[str, str] = field(
        default_factory=dict,
        metadata=bounds(doc="Quantity -> STREAM_KEY.feature, e.g. { heart_rate = \"ppg.heart_rate\""
                        " }; unnamed quantities come from the first stream of a fitting type."),
    )

    def __post_init__(self) -> None:
        unknown = sorted(set(self.sources) - set(COMPOSITE_WEIGHTS))
        if unknown:
            raise ValueError(f"sources: unknown quantity {unknown[0]!r} (known: "
                             f"{', '.join(COMPOSITE_WEIGHTS)})")
        for quantity, source in self.sources.items():
            if "." not in source:
                raise ValueError(f"sources.{quantity}: {source!r} must be STREAM_KEY.feature")


@dataclass(frozen=True)
class RecordSpec:
    """``[record]``: keep each visitor's session on disk as XDF. Off unless the show opts in."""

    enabled: bool = field(
        default=False, metadata=bounds(doc="Record visitors (privacy: biometric data on disk;"
                                       " only with the visitors' consent).")
    )
    dir: Path = field(
        default=Path("recordings"),
        metadata=bounds(doc="Folder of the recordings (one .xdf per visitor), relative to"
                        " show.toml."),
    )
    streams: bool = field(
        default=True, metadata=bounds(doc="Record the raw samples of the show's streams.")
    )
    features: bool = field(
        default=True, metadata=bounds(doc="Record the features and controls the engine computed.")
    )


@dataclass(frozen=True)
class Show:
    """A whole show, as loaded from ``show.toml``."""

    path: Path
    meta: ShowMeta
    streams: dict[str, StreamSpec]
    mappings: tuple[MappingSpec, ...]
    generator: GeneratorSpec
    passes: tuple[PassSpecToml, ...]
    output: OutputSpec
    moods: tuple[MoodSpec, ...] = ()
    safety: SafetySpec = field(default_factory=SafetySpec)
    idle: IdleSpec = field(default_factory=IdleSpec)
    visitor: VisitorSpec = field(default_factory=VisitorSpec)
    record: RecordSpec = field(default_factory=RecordSpec)
    diffusion: DiffusionSpec = field(default_factory=DiffusionSpec)

    def state_sources(self) -> dict[str, str]:
        """Quantity -> ``STREAM_KEY.feature`` feeding the visitor's state."""
        sources: dict[str, str] = {}
        for quantity, (types, feature) in DEFAULT_STATE_SOURCES.items():
            if quantity in self.visitor.sources:
                sources[quantity] = self.visitor.sources[quantity]
                continue
            for kind in types:
                key = next((k for k, s in self.streams.items() if s.type.upper() == kind), None)
                if key is not None:
                    sources[quantity] = f"{key}.{feature}"
                    break
        return sources


@dataclass(frozen=True)
class _ShowFile:
    # The TOML layout; ``Show`` adds the path and renames ``show`` to ``meta``.
    show: ShowMeta = field(default_factory=ShowMeta)
    streams: dict[str, StreamSpec] = field(default_factory=dict)
    mappings: tuple[MappingSpec, ...] = ()
    generator: GeneratorSpec = field(default_factory=GeneratorSpec)
    passes: tuple[PassSpecToml, ...] = ()
    output: OutputSpec = field(default_factory=OutputSpec)
    moods: tuple[MoodSpec, ...] = ()
    safety: SafetySpec = field(default_factory=SafetySpec)
    idle: IdleSpec = field(default_factory=IdleSpec)
    visitor: VisitorSpec = field(default_factory=VisitorSpec)
    record: RecordSpec = field(default_factory=RecordSpec)
    diffusion: DiffusionSpec = field(default_factory=DiffusionSpec)


def load_show(path: str | Path) -> Show:
    """Load and validate a show file.

    Parameters
    ----------
    path
        The ``show.toml``. Relative shader paths are resolved against its folder.

    Returns
    -------
    Show
        Frozen, validated settings.

    Raises
    ------
    ShowError
        One line naming the file, the line and the key path of the first problem.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShowError(f"{path}: show file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ShowError(f"{path}: cannot read show file ({error})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ShowError(f"{path}: invalid TOML: {error}") from None
    raw = load_dataclass(_ShowFile, data, file=path, text=text)
    show = Show(
        path=path,
        meta=raw.show,
        streams=raw.streams,
        mappings=raw.mappings,
        generator=raw.generator,
        passes=raw.passes,
        output=raw.output,
        moods=raw.moods,
        safety=raw.safety,
        idle=raw.idle,
        visitor=raw.visitor,
        record=raw.record,
        diffusion=raw.diffusion,
    )
    _check_references(show, text)
    return show


def _check_references(show: Show, text: str) -> None:
    """Cross-table checks: every feature a mapping or ``[visitor] sources`` reads is one its
    stream's type produces, every uniform's control is produced by something, passes exist.

    A typo would otherwise pass ``check`` and leave a control at its idle value for the whole
    show; the error names the key, its line, and the closest valid name.
    """
    import difflib  # only here: validation is the one user

    locator = TomlLocator(text)

    def fail(key: tuple[str, ...], message: str) -> ShowError:
        line = locator.line(key)
        where = f"{show.path}:{line}" if line else str(show.path)
        return ShowError(f"{where}: {format_path(key)}: {message}")

    def check_feature(key: tuple[str, ...], path: str) -> None:
        stream, _, name = path.partition(".")
        if stream == STATE_STREAM:
            if name not in STATE_FEATURES:
                close = difflib.get_close_matches(name, sorted(STATE_FEATURES), n=1)
                raise fail(key, f"the visitor's state has no {name!r}" + (
                    f" (did you mean {STATE_STREAM}.{close[0]}?)" if close else
                    f" (known: {', '.join(sorted(STATE_FEATURES))})"))
            return
        if stream not in show.streams:
            declared = ", ".join(sorted(show.streams)) or "none"
            close = difflib.get_close_matches(stream, sorted(show.streams), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise fail(key, f"stream {stream!r} is not declared in [streams] (declared: "
                            f"{declared}){hint}")
        kind = show.streams[stream].type.upper()
        names = feature_names(kind)
        if not names.has(name) and name not in MAPPED.get(kind, ()):
            close_name = names.closest(name)
            hint = (f"did you mean {stream}.{close_name}?" if close_name
                    else f"known: {names.describe()}")
            raise fail(key, f"stream {stream!r} ({kind}) has no feature {name!r} ({hint})")

    if not show.passes:
        raise fail(("passes",), "a show needs at least one [[passes]] entry")
    counts = {"streams": len(show.streams), "mappings": len(show.mappings),
              "passes": len(show.passes), "moods": len(show.moods),
              "generator.stages": len(show.generator.stages)}
    for name, count in counts.items():
        if count > MAX_COUNTS[name]:
            raise fail(tuple(name.split(".")), f"{count} entries, at most {MAX_COUNTS[name]}"
                       " are allowed")
    if STATE_STREAM in show.streams:
        raise fail(("streams", STATE_STREAM), f"{STATE_STREAM!r} is reserved for the visitor's"
                   " state (state.calm...); give the stream another key")
    for quantity, source in show.visitor.sources.items():
        check_feature(("visitor", "sources", quantity), source)
    for i, mapping in enumerate(show.mappings):
        check_feature(("mappings", str(i), "feature"), mapping.feature)
    produced = {m.control for m in show.mappings} | set(show.idle.controls)
    if show.idle.breath_control:
        produced.add(show.idle.breath_control)
    for i, spec in enumerate(show.passes):
        for key in ("shader", "compute"):
            path = getattr(spec, key)
            if path is None:
                continue
            try:
                found = path.is_file()
            except OSError as error:  # e.g. a name longer than the file system allows
                raise fail(("passes", str(i), key),
                           f"not a usable file name ({error.strerror or error})") from None
            if not found:
                raise fail(("passes", str(i), key), f"shader file not found: {path}")
        for table in ("uniforms", "integrals"):
            for uniform, control in getattr(spec, table).items():
                if control not in produced:
                    close = difflib.get_close_matches(control, sorted(produced), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise fail(("passes", str(i), table, uniform),
                               f"control {control!r} is produced by nothing (no [[mappings]]"
                               f" control, [idle] controls entry or breath_control){hint}")
    # The pass graph: names, inputs, sizes, particle keys, cycles.
    try:
        plan_passes([spec.to_spec() for spec in show.passes])
    except GraphError as error:
        raise fail(("passes", str(error.index), *error.key.split(".")), error.message) from None
    # -- diffusion (issue 12): the model of [diffusion], for the source and its stages --
    uses_diffusion = paints_with_diffusion(show)
    if uses_diffusion and show.diffusion.path is None:
        raise fail(("diffusion", "path"), 'model = "diffusion" and kind = "diffusion" stages'
                   ' need path = "your model folder or .safetensors" (nothing is downloaded)')
    for i, mood in enumerate(show.moods):
        if mood.paints and not uses_diffusion:
            key = "prompt" if mood.prompt is not None else "embedding"
            raise fail(("moods", str(i), key), 'a prompt needs the diffusion model: [generator]'
                       ' model = "diffusion" or a [[generator.stages]] kind = "diffusion"')


# -- diffusion (issue 12) ---------------------------------------------------------------------
PROMPT_NAME = "prompt"  # the one prompt's name when a diffusion show has no [[moods]]


def paints_with_diffusion(show: Show) -> bool:
    """Whether the show uses ``[diffusion]``'s model: as its source or in a declared stage."""
    return show.generator.model == "diffusion" or any(
        s.kind == "diffusion" for s in show.generator.stages)


def prompt_names(show: Show) -> tuple[str, ...]:
    """The names a live ``/prompt NAME`` may set: the moods' (or :data:`PROMPT_NAME`
    without moods) when the show's source or an enabled stage paints with diffusion, none
    otherwise."""
    spec = show.generator
    if spec.model != "diffusion" and not any(s.kind == "diffusion" and s.enabled
                                             for s in spec.stages):
        return ()
    return tuple(m.name for m in show.moods) or (PROMPT_NAME,)


def pass_specs(show: Show) -> list[PassSpec]:
    """The show's passes as the renderer takes them."""
    return [spec.to_spec() for spec in show.passes]
