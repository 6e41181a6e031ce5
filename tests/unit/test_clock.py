import pytest

from installation.clock import FixedStepClock, Pacer, PlaybackClock


def test_fixed_step_clock_has_no_accumulated_rounding() -> None:
    clock = FixedStepClock(fps=30.0, start=2.0)
    for _ in range(30 * 3600):
        clock.tick()
    assert clock.now() == 2.0 + 3600.0


class FakeTime:
    """A wall clock and a sleep that the test drives: sleeping moves the clock."""

    def __init__(self) -> None:
        self.t = 100.0
        self.slept: list[float] = []

    def wall(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_pacer_schedules_against_target_times_so_work_never_accumulates_into_drift() -> None:
    fake = FakeTime()
    pacer = Pacer(0.1, wall=fake.wall, sleep=fake.sleep)
    pacer.wait()  # starts the schedule at 100.0, first frame due at 100.1
    for _ in range(50):
        fake.t += 0.03  # each frame's work
        pacer.wait()
    # 51 frames due at 100 + k * 0.1: the last wait ends exactly on its slot.
    assert fake.t == pytest.approx(100.0 + 51 * 0.1)
    assert pacer.skipped == 0


def test_a_late_pacer_skips_to_the_next_slot_instead_of_bursting() -> None:
    fake = FakeTime()
    pacer = Pacer(0.1, wall=fake.wall, sleep=fake.sleep)
    pacer.wait()
    fake.t += 0.35  # one frame takes 3.5 periods
    pacer.wait()
    assert fake.t == pytest.approx(100.5)  # next slot ahead (k=5), not k=2 at once
    assert pacer.skipped == 3
    fake.t += 0.01
    pacer.wait()
    assert fake.t == pytest.approx(100.6)  # and the grid holds afterwards


def test_playback_clock_counts_seeks_and_loops_as_jumps_but_not_the_end() -> None:
    fake = FakeTime()
    clock = PlaybackClock(duration=10.0, wall=fake.wall)
    fake.t += 4.0
    assert clock.now() == pytest.approx(4.0) and clock.jumps == 0
    clock.seek(8.0)
    assert clock.jumps == 1
    fake.t += 3.0  # loops to 1.0
    assert clock.now() == pytest.approx(1.0) and clock.jumps == 2
    clock.loop = False
    clock.seek(9.0)
    fake.t += 5.0
    assert clock.now() == 10.0 and clock.now() == 10.0
    assert clock.jumps == 3  # stopping at the end is not a jump
