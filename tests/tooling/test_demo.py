"""``make demo``'s verdict: a step in the wrong state fails the run (exit 1), a skipped part is only a note."""

from __future__ import annotations

import pytest

from devstack import demo

CONFIG = {"api": "http://127.0.0.1:1", "mode": "emulator", "stripe": None, "catalog": [], "functions": []}


def run_sections(monkeypatch, *sections) -> int:
    monkeypatch.setattr(demo, "SECTIONS", tuple(demo.Section(f"section {i}", run) for i, run in enumerate(sections)))
    return demo.run(dict(CONFIG))


def test_a_step_in_the_wrong_state_fails_the_demo_and_stops_it(monkeypatch, capsys):
    ran = []

    def wrong(d):
        d.say("an order that should be paid")
        d.expect(False, "the order reads paid")

    assert run_sections(monkeypatch, wrong, lambda d: ran.append("later")) == 1
    assert ran == []
    out = capsys.readouterr().out
    assert "FAILED  the order reads paid" in out and "Demo FAILED at: the order reads paid" in out


def test_a_skipped_section_is_a_note_and_the_demo_passes(monkeypatch, capsys):
    def skipped(d):
        raise demo.Skip("SubscribeFunction is not in template.yaml yet")

    def fine(d):
        d.expect(True, "all good")

    assert run_sections(monkeypatch, skipped, fine) == 0
    out = capsys.readouterr().out
    assert "note: skipped: SubscribeFunction is not in template.yaml yet" in out and "Demo passed" in out


def test_the_subscription_section_is_skipped_while_the_template_has_no_subscribe_function(monkeypatch, capsys):
    assert run_sections(monkeypatch, demo.section_subscription) == 0
    assert "SubscribeFunction is not in template.yaml" in capsys.readouterr().out


def test_a_wait_that_never_comes_true_fails_within_its_bound():
    with pytest.raises(demo.DemoFailed, match="waited"):
        demo.Demo(dict(CONFIG)).wait_until(lambda: False, "never", timeout=0.3)
