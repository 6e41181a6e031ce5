"""Diffusion speed: images per second and control-to-image latency (issue 12).

    .venv/bin/python benchmarks/bench_diffusion.py engine [--repeats 5] [--frames 8]
    .venv/bin/python benchmarks/bench_diffusion.py sd-turbo [--scale full|tiny] [--size 512]
        [--device cuda] [--compile] [--repeats 5] [--frames 20] [--json out.json]

``engine``: the tiny random pipeline (``installation/generator/diffusion/tiny.py``) saved to
a folder and loaded through a show, exactly as an artist's model is, into the generator
chain: txt2img as the source (``model = "diffusion"``), img2img repainting the default CPPN
(``[[generator.stages]] kind = "diffusion"``), and the CPPN alone as the baseline of the
same run.
It proves the code path only (a tiny random model costs nothing like a real one).

- images/s: lock-step ``Controls -> GeneratedImage`` (uint8 in host memory), median of
  ``--repeats`` runs of ``--frames`` images after a warm-up;
- latency, lock-step: one call (controls in, pixels out), median;
- latency, worker: a control change posted to a free-running ``GeneratorWorker`` until the
  first image generated from it is visible through ``latest()`` (what the display would
  crossfade to next), median and p95; the image is checked to differ from the one before.

``sd-turbo``: the published SD-2.1 / sd-turbo architecture (UNet 865 M parameters, VAE,
OpenCLIP-H text encoder, TAESD) **with random weights** (their speed is a trained model's),
built in memory from the published config values, fp16 on CUDA. 1-step txt2img and 1-step
img2img (strength 0.5) at ``--size``², each with the full VAE and with TAESD, and with
``--compile`` also under ``torch.compile``. ``--scale tiny`` shrinks every width by 8 and the
image to 64², for a CPU smoke check of the same code.

``stream-batch``: does StreamDiffusion's stream batch (Kodaira et al. 2023: the denoising
steps of successive frames batched into one UNet call) pay on this device? The same UNet
(``--scale``, ``--size``) called once at batch n against n calls at batch 1, n = 1, 2, 4;
the figure is the throughput ratio ``n * t(1) / t(n)`` (1.0: batching gains nothing), median
of ``--repeats`` alternating rounds. It only ever matters at 2-4 steps: at 1 step there is
nothing to batch.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from installation.generator.device import inference_dtype, pick_device  # noqa: E402
from installation.generator.worker import GeneratorWorker  # noqa: E402
from installation.messages import Controls  # noqa: E402

# StreamDiffusion's README (RTX 4090, Core i9-13900K, Ubuntu 22.04.3, TensorRT; 512x512).
STREAMDIFFUSION_4090 = {"sd-turbo 1 step": {"txt2img_fps": 106.16, "img2img_fps": 93.897},
                        "LCM-LoRA + KohakuV2 4 steps": {"txt2img_fps": 38.023,
                                                        "img2img_fps": 37.133}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


# -- engine: the tiny pipeline through a show -----------------------------------------------
SHOW = """
[streams.ecg]
type = "ECG"

[generator]
model = "{model}"
size = [{w}, {h}]
{stages}

[diffusion]
path = "{pipe}"
{diffusion}

[[moods]]
name = "still water"
position = [1.0, 0.1]
seed = 11
{still}

[[moods]]
name = "storm"
position = [0.0, 1.0]
seed = 12
{storm}

[[passes]]
shader = "{shader}"
"""


def controls(i: int) -> Controls:
    return Controls(t=i / 15.0, values={"calm": (i % 10) / 10, "energy": 0.4})


def lockstep(gen, frames: int, repeats: int) -> dict:
    for i in range(3):
        gen(controls(i))  # warm-up
    rates, calls = [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        for i in range(frames):
            c0 = time.perf_counter()
            gen(controls(r * frames + i))
            sync(gen.device)
            calls.append(time.perf_counter() - c0)
        rates.append(frames / (time.perf_counter() - t0))
    return {"images_per_s_median": statistics.median(rates), "images_per_s_runs":
            [round(x, 2) for x in rates],
            "lockstep_latency_ms_median": 1e3 * statistics.median(calls)}


def worker_latency(gen, samples: int) -> dict:
    """A control change -> the first image made from it, seen by the display thread."""
    clock = time.perf_counter
    waits, changed = [], 0
    with GeneratorWorker(gen, rate=1000.0, clock=clock) as worker:
        while worker.latest() is None:
            time.sleep(0.001)
        for i in range(samples):
            before = worker.latest().pixels.copy()
            posted = clock()
            calm = 1.0 if i % 2 else 0.0  # from one mood to the other
            worker.post(Controls(t=posted, values={"calm": calm, "energy": 1.0 - calm}))
            while True:
                image = worker.latest()
                if image is not None and image.t >= posted:
                    waits.append(clock() - posted)
                    changed += int((image.pixels != before).any())
                    break
                time.sleep(0.0005)
    return {"worker_latency_ms_median": 1e3 * statistics.median(waits),
            "worker_latency_ms_p95": 1e3 * percentile(waits, 0.95),
            "first_image_changed": f"{changed}/{samples}"}


def engine(args: argparse.Namespace) -> dict:
    from installation.generator.diffusion.tiny import build_tiny_pipeline
    from installation.generator.factory import make_generator
    from installation.show import load_show

    w, h = args.engine_size
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_tiny_pipeline(root / "pipe", tiny_vae=root / "taesd")
        shader = REPO / "shaders" / "pulse.frag"
        stage = '[[generator.stages]]\nkind = "diffusion"\nstrength = 0.5'
        cases = {
            "cppn (baseline)": ("cppn", "", ""),
            "txt2img source, tiny pipeline": ("diffusion", "", ""),
            "txt2img source, tiny pipeline + TAESD": ("diffusion", "",
                                                      f'tiny_vae = "{root}/taesd"'),
            "img2img repainting the CPPN, strength 0.5": ("cppn", stage, ""),
        }
        for name, (model, stages, diffusion) in cases.items():
            path = root / f"{len(report)}.toml"
            prompts = bool(stages) or model == "diffusion"
            path.write_text(SHOW.format(
                model=model, w=w, h=h, stages=stages, pipe=root / "pipe", diffusion=diffusion,
                shader=shader,
                still='prompt = "still water at dawn"' if prompts else "",
                storm='prompt = "a storm over the sea"' if prompts else ""))
            show = load_show(path)
            result = lockstep(make_generator(show, device=args.device), args.frames,
                              args.repeats)
            result.update(worker_latency(make_generator(show, device=args.device, buffers=3),
                                         args.samples))
            report[name] = result
            print(name, json.dumps(result), flush=True)
    base = report["cppn (baseline)"]["images_per_s_median"]
    for result in report.values():
        result["vs_cppn"] = round(result["images_per_s_median"] / base, 4)
    return {"size": [w, h], **report}


# -- sd-turbo: the published architecture, random weights ------------------------------------
def sd_turbo_pipeline(scale: str, device: torch.device, dtype: torch.dtype, tmp: Path):
    """SD 2.1 / sd-turbo (unet, vae, text_encoder) + TAESD, random, from published configs."""
    from diffusers import (
        AutoencoderKL,
        AutoencoderTiny,
        EulerAncestralDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from installation.generator.diffusion.tiny import write_vocabulary

    d = 8 if scale == "tiny" else 1
    torch.manual_seed(0)
    unet = UNet2DConditionModel(  # stabilityai/sd-turbo unet/config.json values
        sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
        block_out_channels=tuple(c // d for c in (320, 640, 1280, 1280)),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        attention_head_dim=(5, 10, 20, 20), cross_attention_dim=1024 // d,
        use_linear_projection=True, norm_num_groups=32 // d if d > 1 else 32,
    )
    vae = AutoencoderKL(  # vae/config.json values
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
        block_out_channels=tuple(c // d for c in (128, 256, 512, 512)),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        norm_num_groups=32 // d if d > 1 else 32, sample_size=512, scaling_factor=0.18215,
    )
    size = write_vocabulary(tmp / "vocab")
    tokenizer = CLIPTokenizer.from_pretrained(tmp / "vocab", model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(  # OpenCLIP ViT-H/14 text tower
        vocab_size=size, hidden_size=1024 // d, intermediate_size=4096 // d,
        num_attention_heads=16, num_hidden_layers=23 if d == 1 else 2,
        max_position_embeddings=77, hidden_act="gelu", projection_dim=512 // d,
        bos_token_id=size - 2, eos_token_id=size - 1, pad_token_id=size - 1))
    scheduler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                                beta_schedule="scaled_linear",
                                                timestep_spacing="trailing", steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   unet=unet, scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    taesd = AutoencoderTiny(  # madebyollin/taesd config (the default), narrowed when tiny
        encoder_block_out_channels=(64 // d,) * 4, decoder_block_out_channels=(64 // d,) * 4)
    return pipe.to(device, dtype), taesd.to(device, dtype)


def sd_turbo(args: argparse.Namespace) -> dict:
    from diffusers import StableDiffusionImg2ImgPipeline

    from installation.generator.diffusion.loading import LoadedModel
    from installation.generator.diffusion.offline import import_diffusers
    from installation.generator.diffusion.prompts import PromptBlend, PromptEncoder
    from installation.generator.diffusion.schedule import make_scheduler
    from installation.generator.diffusion.source import DiffusionSource
    from installation.generator.diffusion.stage import DiffusionStage
    from installation.show import DiffusionSpec, StageSpec

    diffusers = import_diffusers("bench")
    device = pick_device(args.device)
    dtype = inference_dtype(device)
    side = 64 if args.scale == "tiny" else args.size
    report: dict = {"scale": args.scale, "size": [side, side], "dtype": str(dtype)}
    with tempfile.TemporaryDirectory() as tmp:
        pipe, taesd = sd_turbo_pipeline(args.scale, device, dtype, Path(tmp))
    pipe.scheduler, _ = make_scheduler(diffusers, "euler_a", pipe.scheduler.config)
    full_vae = pipe.vae
    report["unet_parameters_m"] = round(sum(p.numel() for p in pipe.unet.parameters()) / 1e6, 1)
    image = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    image = image.to(device, dtype)
    eager_unet = pipe.unet
    for compiled in ([False, True] if args.compile else [False]):
        unet = torch.compile(eager_unet) if compiled else eager_unet
        for tiny in (False, True):
            pipe.unet, pipe.vae = unet, taesd if tiny else full_vae
            img2img = StableDiffusionImg2ImgPipeline.from_pipe(pipe, vae=pipe.vae)
            for p in (pipe, img2img):
                p.set_progress_bar_config(disable=True)
            spec = DiffusionSpec(size=(side, side))
            model = LoadedModel(txt2img=pipe, img2img=img2img, family="sd", device=device,
                                dtype=dtype, grid=1, train_steps=1000,
                                vae_scale=int(pipe.vae_scale_factor), latent_channels=4,
                                spec=spec)
            prompts = PromptBlend((), spec, None, PromptEncoder(model))
            source = DiffusionSource(model, prompts, (side, side), seed=0)
            stage = DiffusionStage(model, prompts, seed=0,
                                   settings=StageSpec(kind="diffusion", strength=0.5))
            z = torch.randn(source.latent_dim, generator=torch.Generator().manual_seed(1))
            z = z.to(device, dtype)
            calls = {"txt2img": lambda s=source, z=z: s.render_controls(z, controls(0)),
                     "img2img": lambda s=stage: s(image, controls(0))}
            for task, call in calls.items():
                warm = 10 if compiled else 3
                for _ in range(warm):  # compile (minutes) and allocator warm-up
                    call()
                sync(device)
                rates = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    for _ in range(args.frames):
                        call()
                    sync(device)
                    rates.append(args.frames / (time.perf_counter() - t0))
                key = (f"{task} 1 step, {'TAESD' if tiny else 'full VAE'}"
                       f"{', torch.compile' if compiled else ''}")
                report[key] = {"images_per_s_median": round(statistics.median(rates), 2),
                               "runs": [round(r, 2) for r in rates]}
                print(key, json.dumps(report[key]), flush=True)
    if device.type == "cuda":
        report["cuda_max_memory_allocated_mib"] = round(torch.cuda.max_memory_allocated()
                                                        / 2**20)
    report["streamdiffusion_rtx4090_published"] = STREAMDIFFUSION_4090
    return report


def stream_batch(args: argparse.Namespace) -> dict:
    device = pick_device(args.device)
    dtype = inference_dtype(device)
    side = 64 if args.scale == "tiny" else args.size
    with tempfile.TemporaryDirectory() as tmp:
        pipe, _ = sd_turbo_pipeline(args.scale, device, dtype, Path(tmp))
    unet = pipe.unet.eval()
    gen = torch.Generator().manual_seed(0)
    latent = side // 8
    dim = unet.config.cross_attention_dim
    report: dict = {"scale": args.scale, "size": [side, side], "dtype": str(dtype),
                    "machine": machine(device)}
    times: dict[int, list[float]] = {1: [], 2: [], 4: []}

    @torch.no_grad()
    def call(n: int) -> None:
        x = torch.randn(n, 4, latent, latent, generator=gen).to(device, dtype)
        text = torch.randn(n, 77, dim, generator=gen).to(device, dtype)
        t = torch.full((n,), 999, device=device)
        unet(x, t, encoder_hidden_states=text)

    for n in times:
        call(n)  # warm-up
    for _ in range(args.repeats):
        for n in times:  # alternating, so load changes hit every batch size alike
            sync(device)
            t0 = time.perf_counter()
            call(n)
            sync(device)
            times[n].append(time.perf_counter() - t0)
    t1 = statistics.median(times[1])
    for n, runs in times.items():
        tn = statistics.median(runs)
        report[f"batch {n}"] = {"s_per_call_median": round(tn, 4),
                                "throughput_vs_batch_1": round(n * t1 / tn, 2),
                                "runs": [round(r, 4) for r in runs]}
        print(f"batch {n}", json.dumps(report[f"batch {n}"]), flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=("engine", "sd-turbo", "stream-batch"))
    parser.add_argument("--device", help="torch device (default: automatic)")
    parser.add_argument("--scale", choices=("full", "tiny"), default="full")
    parser.add_argument("--size", type=int, default=512, help="sd-turbo image side (512)")
    parser.add_argument("--engine-size", type=lambda s: tuple(int(v) for v in s.split("x")),
                        default=(64, 64), help="engine image WxH (64x64)")
    parser.add_argument("--compile", action="store_true", help="sd-turbo: also torch.compile")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=10, help="worker latency samples")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 on a loaded machine)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    report = {"machine": machine(device), "torch": torch.__version__}
    cases = {"engine": engine, "sd-turbo": sd_turbo, "stream-batch": stream_batch}
    report.update(cases[args.case](args))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
