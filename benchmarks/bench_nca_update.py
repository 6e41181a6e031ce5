"""Living image: CPU cost of one NCA step, forward and forward + backward, by formulation.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_nca_update.py [--hidden 96] [--repeats 2]

Batch 4 of random 16-channel 64x64 states (every cell alive), 20 CA steps per figure, CPU time
from ``getrusage``. ``conv``: the paper's form (grouped 3x3 perception, then two 1x1
``Conv2d``); ``bmm``: ``Nca.update`` as it is now (the same weights as batched matrix
products over the cells); ``channels_last``: the conv form on a channels-last state. Each
form is checked against ``conv`` first.
"""

from __future__ import annotations

import argparse
import resource

import torch
from torch.nn import functional

from installation.generator.nca import Nca, NcaConfig, fire_mask


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = Nca(NcaConfig(hidden=args.hidden))
    torch.nn.init.normal_(model.out.weight, std=0.01)

    def conv(state: torch.Tensor) -> torch.Tensor:
        perceived = functional.conv2d(state, model.kernels, padding=1, groups=16)
        return model.out(torch.relu(model.hidden(perceived)))

    def channels_last(state: torch.Tensor) -> torch.Tensor:
        return conv(state.contiguous(memory_format=torch.channels_last))

    forms = {"conv": conv, "bmm": model.update, "channels_last": channels_last}
    gen = torch.Generator().manual_seed(0)
    start = torch.rand(4, 16, 64, 64)

    def step(state: torch.Tensor, update) -> torch.Tensor:
        fire = fire_mask(state, 0.5, gen)
        pre = model.alive(state)
        state = state + update(state) * fire
        return state * (pre & model.alive(state)).to(state.dtype)

    with torch.no_grad():
        reference = conv(start)
        for name, update in forms.items():
            error = float((update(start) - reference).abs().max())
            print(f"{name}: max difference from conv {error:.1e}")
    for repeat in range(args.repeats):
        for name, update in forms.items():
            cpu = _cpu()
            with torch.no_grad():
                state = start
                for _ in range(20):
                    state = step(state, update)
            forward = (_cpu() - cpu) / 20 * 1e3
            cpu = _cpu()
            state = start
            for _ in range(20):
                state = step(state, update)
            state.pow(2).mean().backward()
            both = (_cpu() - cpu) / 20 * 1e3
            print(f"run {repeat}: {name:14s} forward {forward:5.1f} ms, forward + backward "
                  f"{both:5.1f} ms CPU per CA step", flush=True)


if __name__ == "__main__":
    main()
