"""Few-step schedules: trailing timesteps at any strength, and Euler ancestral that takes them."""

from __future__ import annotations

import numpy as np
import pytest

from installation.generator.diffusion.schedule import MIN_STRENGTH, trailing_timesteps


def test_full_strength_is_the_trailing_schedule() -> None:
    assert trailing_timesteps(1.0, 1) == [999]
    assert trailing_timesteps(1.0, 2) == [999, 499]
    assert trailing_timesteps(1.0, 4) == [999, 749, 499, 249]


def test_strength_moves_the_start_continuously() -> None:
    starts = [trailing_timesteps(s, 1)[0] for s in np.linspace(0.1, 1.0, 10)]
    assert starts == [99, 199, 299, 399, 499, 599, 699, 799, 899, 999]


def test_almost_no_strength_repaints_nothing() -> None:
    assert trailing_timesteps(MIN_STRENGTH / 2, 2) == []


def test_lcm_grid_snaps_to_the_distillation_timesteps() -> None:
    steps = trailing_timesteps(0.33, 2, grid=20)
    assert all((t + 1) % 20 == 0 for t in steps)
    assert steps == sorted(set(steps), reverse=True)


def test_explicit_euler_ancestral_matches_its_own_trailing_schedule(tiny_model) -> None:
    import diffusers

    from installation.generator.diffusion.schedule import make_scheduler

    config = diffusers.EulerAncestralDiscreteScheduler.load_config(tiny_model.pipe / "scheduler")
    ours, grid = make_scheduler(diffusers, "euler_a", config)
    theirs = diffusers.EulerAncestralDiscreteScheduler.from_config(config,
                                                                  timestep_spacing="trailing")
    assert grid == 1
    for steps in (1, 2, 4):
        ours.set_timesteps(timesteps=trailing_timesteps(1.0, steps))
        theirs.set_timesteps(steps)
        assert ours.timesteps.tolist() == theirs.timesteps.tolist()
        assert ours.sigmas.tolist() == pytest.approx(theirs.sigmas.tolist())
