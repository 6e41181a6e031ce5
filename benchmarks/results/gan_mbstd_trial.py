"""GAN trial: DCGAN's discriminator with a minibatch-standard-deviation channel before its
logits (Karras et al. 2018, "Progressive Growing of GANs", section 3), against mode collapse.

usage: mbstd_trial.py NAME MINUTES GROUP [json overrides of GanConfig / GanTrainConfig]
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

from installation.generator import gan, gan_train  # noqa: E402
from installation.generator.dataset import load_folder  # noqa: E402
from installation.generator.quality import make_shapes, quality  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_quality import samples  # noqa: E402

name, minutes, group = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
over = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
gan_over = {k: over.pop(k) for k in list(over) if k in ("d_norm", "d_channels", "channels")}


def minibatch_std(h: torch.Tensor, group: int) -> torch.Tensor:
    b, c, hh, ww = h.shape
    g = min(group, b)
    y = h.view(g, -1, c, hh, ww)  # groups of g images, interleaved as in ProGAN
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt()  # std over the group
    y = y.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1).repeat(g, 1, hh, ww)
    return torch.cat([h, y], dim=1)


class MbstdD(gan.DcganDiscriminator):
    def __init__(self, config):
        super().__init__(config)
        if group > 0:
            self.logits = gan._dcgan_conv(nn.Conv2d(config.d_width(4) + 1, 1, 4, 1, 0, bias=False),
                                        config.d_norm)

    def forward(self, x, part=None):
        h = self.features(x, self.depth)
        if group > 0:
            h = minibatch_std(h, group)
        return self.logits(h), None, None


gan_train.build_discriminator = gan.build_discriminator = lambda config: MbstdD(config)

work = Path(f"/tmp/trial/{name}")
folder = Path("/tmp/trial/shapes")
if not folder.exists():
    make_shapes(folder, count=240, size=64, seed=0)
training, _ = load_folder(folder, 64)
config = replace(gan_train.GanTrainConfig(), gan=replace(gan.GanConfig(), **gan_over),
                 minutes=minutes,
                 progress=False, every=300, **over)
start = time.time()
r = gan_train.train_gan(folder, work / "gan.pt", config)
report = quality(samples(work / "gan.pt", "gan"), training, shapes=True).as_dict()
rec = {"name": name, "group": group, "over": {**over, **gan_over}, "steps": r.step,
       "wall_s": round(time.time() - start), "load": round(os.getloadavg()[0], 2), **report}
print(json.dumps(rec))
with open("/tmp/trial/records.jsonl", "a") as f:
    f.write(json.dumps(rec) + "\n")
