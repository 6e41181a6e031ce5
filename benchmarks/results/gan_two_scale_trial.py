"""GAN trial: two discriminators, on the image and on it halved (the multi-scale discriminators
of pix2pixHD: Wang et al. 2018, "High-Resolution Image Synthesis and Semantic Manipulation with
Conditional GANs", section 3.2), so that the whole shape's outline weighs as much as its
texture. Each is format 3's DCGAN discriminator; their logits are averaged into the loss.

usage: gan_two_scale_trial.py NAME MINUTES [json overrides of GanConfig / GanTrainConfig]
Scored as bench_quality.py scores (240 seeded samples, the same 240 shapes).
"""
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch

torch.set_num_threads(1)
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402, N812

from installation.generator import gan, gan_train  # noqa: E402
from installation.generator.dataset import load_folder  # noqa: E402
from installation.generator.quality import make_shapes, quality  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_quality import samples  # noqa: E402

name, minutes = sys.argv[1], float(sys.argv[2])
over = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
gan_over = {k: over.pop(k) for k in list(over) if k in ("d_norm", "d_channels", "channels")}


class TwoScaleD(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.full = gan.DcganDiscriminator(config)
        self.halved = gan.DcganDiscriminator(replace(config, size=config.size // 2))

    def forward(self, x, part=None):
        a = self.full(x)[0].flatten(1)
        b = self.halved(F.avg_pool2d(x, 2))[0].flatten(1)
        return torch.cat([a, b], dim=1), None, None  # (B, 2): the loss averages both


gan_train.build_discriminator = gan.build_discriminator = lambda config: TwoScaleD(config)

work = Path(f"/tmp/trial/{name}")
folder = Path("/tmp/trial/shapes")
if not folder.exists():
    make_shapes(folder, count=240, size=64, seed=0)
training, _ = load_folder(folder, 64)
config = replace(gan_train.GanTrainConfig(), gan=replace(gan.GanConfig(), **gan_over),
                 minutes=minutes, progress=False, every=300, **over)
start = time.time()
r = gan_train.train_gan(folder, work / "gan.pt", config)
report = quality(samples(work / "gan.pt", "gan"), training, shapes=True).as_dict()
rec = {"name": name, "over": {**over, **gan_over}, "steps": r.step,
       "wall_s": round(time.time() - start), "load": round(os.getloadavg()[0], 2), **report}
print(json.dumps(rec))
with open("/tmp/trial/records.jsonl", "a") as f:
    f.write(json.dumps(rec) + "\n")
