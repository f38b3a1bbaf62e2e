"""The collector pause of a cold start: only in Lambda, and over after the first event (frozen, then enabled)."""

import gc

import pytest

from payments.core import coldstart


@pytest.fixture
def collector(monkeypatch):
    state = {"enabled": True, "frozen": 0}
    monkeypatch.setattr(coldstart.gc, "isenabled", lambda: state["enabled"])
    monkeypatch.setattr(coldstart.gc, "disable", lambda: state.update(enabled=False))
    monkeypatch.setattr(coldstart.gc, "enable", lambda: state.update(enabled=True))
    monkeypatch.setattr(coldstart.gc, "freeze", lambda: state.update(frozen=state["frozen"] + 1))
    monkeypatch.setattr(coldstart, "_paused", False)
    return state


def test_outside_lambda_nothing_changes(collector, monkeypatch):
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    coldstart.pause()
    coldstart.started()
    assert collector == {"enabled": True, "frozen": 0}


def test_in_lambda_the_collector_waits_for_the_first_event_then_runs_as_before(collector, monkeypatch):
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    coldstart.pause()
    assert collector == {"enabled": False, "frozen": 0}
    coldstart.started()
    assert collector == {"enabled": True, "frozen": 1}
    coldstart.started()  # later events change nothing
    assert collector == {"enabled": True, "frozen": 1}


def test_a_collector_someone_else_disabled_is_left_alone(collector, monkeypatch):
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    collector["enabled"] = False
    coldstart.pause()
    coldstart.started()
    assert collector == {"enabled": False, "frozen": 0}


def test_the_test_process_collects_as_usual():
    assert gc.isenabled()
