from installation.clock import FixedStepClock


def test_fixed_step_clock_has_no_accumulated_rounding() -> None:
    clock = FixedStepClock(fps=30.0, start=2.0)
    for _ in range(30 * 3600):
        clock.tick()
    assert clock.now == 2.0 + 3600.0
