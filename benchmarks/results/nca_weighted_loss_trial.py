"""NCA trial: weight the loss inside the target's disc.

usage: nca_weighted_loss_trial.py NAME WEIGHT MINUTES [json overrides]
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

from installation.generator import train_nca  # noqa: E402

name, weight, minutes = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
over = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
orig = train_nca._per_sample_loss

def weighted(state, target):
    err = (train_nca.rgba(state) - target).pow(2)
    w = 1.0 + (weight - 1.0) * (target[:, 3:4] > 0.05).float()
    w = w / w.mean()
    return (err * w).mean(dim=(1, 2, 3))

if weight != 1.0:
    train_nca._per_sample_loss = weighted
config = replace(train_nca.NcaTrainConfig(), minutes=minutes, steps=3000, progress=False, **over)
start = time.time()
out = Path(f"/tmp/nca/{name}.pt")
portrait = Path(__file__).resolve().parents[2] / "pieces/living-image/portrait.png"
r = train_nca.train_nca(portrait, out, config)
rec = {"name": name, "weight": weight, "over": over, "steps": r.step,
       "loss_last50": sum(r.losses[-50:]) / 50, "likeness": r.likeness,
       "wall_s": round(time.time() - start), "load": os.getloadavg()[0]}
print(json.dumps(rec))
with open("/tmp/nca/records.jsonl", "a") as f:
    f.write(json.dumps(rec) + "\n")
