"""SIGTERM and SIGHUP become Terminated inside terminate_as_interrupt, once."""

import os
import signal
import sys

import pytest

from aural.interrupts import Terminated, raise_if_terminated, terminate_as_interrupt


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_raises_terminated_and_handlers_are_restored(signum):
    before = signal.getsignal(signum)
    with pytest.raises(Terminated) as caught:
        with terminate_as_interrupt():
            os.kill(os.getpid(), signum)
            for _ in range(1000):
                pass
    assert caught.value.signum == signum and isinstance(caught.value, KeyboardInterrupt)
    assert signal.getsignal(signum) is before


def test_a_repeated_signal_does_not_cut_the_cleanup_short():
    cleaned = []
    with pytest.raises(Terminated):
        with terminate_as_interrupt():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):
                    pass
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # ignored while cleaning up
                for _ in range(1000):
                    pass
                cleaned.append(True)
    assert cleaned == [True]


def test_a_signal_whose_exception_was_dropped_is_raised_at_the_next_check(capsys):
    def dropped_in_a_callback():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):
                pass
        except Terminated as exc:  # what the interpreter does with exceptions in C callbacks
            sys.unraisablehook(type("Info", (), {"exc_value": exc, "exc_type": Terminated,
                                                 "exc_traceback": None, "err_msg": None, "object": None}))

    with terminate_as_interrupt():
        dropped_in_a_callback()
        with pytest.raises(Terminated):
            raise_if_terminated()
        raise_if_terminated()  # once only
    raise_if_terminated()  # outside: nothing pending
    assert "Traceback" not in capsys.readouterr().err


def test_after_a_signal_finalisers_of_objects_it_cut_short_stay_quiet():
    """numba's llvmlite values interrupted mid-compile fail in __del__ (an AttributeError the
    interpreter prints as 'Exception ignored'): after a signal, such reports are dropped."""
    def report(exc):
        sys.unraisablehook(type("Info", (), {"exc_value": exc, "exc_type": type(exc), "exc_traceback": None,
                                             "err_msg": "Exception ignored in", "object": None}))

    seen = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda info: seen.append(str(info.exc_value))
    try:
        with terminate_as_interrupt():
            report(AttributeError("before any signal"))
        assert seen == ["before any signal"]
        with pytest.raises(Terminated):
            with terminate_as_interrupt():
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):
                    pass
        report(AttributeError("'ValueRef' object has no attribute '_as_parameter_'"))
        assert seen == ["before any signal"]
    finally:
        sys.unraisablehook = previous
