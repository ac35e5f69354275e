"""Pausing the cyclic collector: counted, so overlapping pauses switch it back on only
when the last one ends, and never switch on a collector that was off."""

from __future__ import annotations

import gc

from keel import collector


def test_overlapping_pauses_restore_the_collector_at_the_last_exit() -> None:
    assert gc.isenabled()
    first = collector.paused()
    second = collector.paused()
    first.__enter__()
    second.__enter__()
    assert not gc.isenabled()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second pause is still running
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
