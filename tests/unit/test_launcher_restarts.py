"""The launcher restarts a dead component after a pause that grows while it keeps crashing, resets once it ran
a while, and never makes one component's pause hold up another's restart. Real child processes."""

import sys
import time

from gongkai.config import Settings
from gongkai.launcher import STABLE_AFTER_S, Component, Stack, restart_pause


def crashing(name: str) -> Component:
    return Component(name, [sys.executable, "-c", "raise SystemExit(3)"], None, None, "", lambda: True)


def stack_of(tmp_path, *parts: Component) -> Stack:
    stack = Stack.__new__(Stack)
    stack.settings, stack.parts, stack.quiet, stack.logs = Settings(data_dir=tmp_path), list(parts), True, tmp_path
    return stack


def wait_dead(*parts: Component) -> None:
    for p in parts:
        p.proc.wait(timeout=30)


def test_the_pause_grows_then_stays_bounded():
    assert [restart_pause(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


def test_crashes_in_a_row_back_off_and_a_stable_run_resets(tmp_path):
    a = crashing("a")
    stack = stack_of(tmp_path, a)
    stack._spawn(a)
    wait_dead(a)
    t = a.started_at + 1
    stack.tend(t)
    assert a.restarts == 1 and a.restart_due == t + 0.5
    stack.tend(t + 0.1)  # its pause is not over
    assert a.restart_due is not None
    stack.tend(t + 0.5)  # restarted
    assert a.restart_due is None and a.started_at > t - 1
    wait_dead(a)
    stack.tend(a.started_at + 1)
    assert a.restarts == 2 and a.restart_due == a.started_at + 1 + 1
    stack.tend(a.restart_due)
    wait_dead(a)
    stack.tend(a.started_at + STABLE_AFTER_S + 1)  # it had run long enough: a fresh start, a short pause
    assert a.restarts == 1


def test_one_crash_loop_does_not_delay_another_component(tmp_path):
    looping, other = crashing("looping"), crashing("other")
    looping.restarts = 6  # has been crashing for a while: a long pause
    stack = stack_of(tmp_path, looping, other)
    stack._spawn(looping)
    stack._spawn(other)
    wait_dead(looping, other)
    now = time.monotonic()
    stack.tend(now)
    assert looping.restart_due == now + 8 and other.restart_due == now + 0.5
    stack.tend(now + 0.5)
    assert other.restart_due is None and looping.restart_due == now + 8
    wait_dead(other)
