"""Automation rules and round-robin, without a database: checking a rule (every mistake by
its path), matching each condition with its reason, triggers, and choosing an agent."""

from __future__ import annotations

import time
from typing import Any

import pytest

from backchannel.domain import assignment, rules
from backchannel.errors import BackchannelError


def rule(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Refunds",
        "trigger": {"type": "message_received"},
        "conditions": [],
        "actions": [{"type": "priority", "priority": "high"}],
    }
    body.update(overrides)
    return body


def errors_of(body: Any) -> list[dict[str, str]]:
    with pytest.raises(BackchannelError) as caught:
        rules.check(body)
    assert caught.value.code == "invalid_rule"
    return list(caught.value.details["errors"])


def paths(body: Any) -> list[str]:
    return [e["path"] for e in errors_of(body)]


# --- checking -----------------------------------------------------------------------------


def test_a_rule_is_checked_and_filled_in() -> None:
    checked = rules.check(
        rule(
            name="  Refund   words ",
            conditions=[
                {"type": "keywords", "words": ["refund", " money  back "]},
                {"type": "label", "label_id": "l_x"},
                {"type": "first_message"},
                {"type": "attribute", "name": "plan", "op": "exists"},
            ],
            actions=[{"type": "assign", "to": "@Agnes"}, {"type": "snooze", "minutes": 30}],
        )
    )
    assert checked["name"] == "Refund words"
    assert checked["enabled"] is True and checked["stop"] is False
    assert checked["conditions"] == [
        {"type": "keywords", "words": ["refund", "money back"], "match": "any"},
        {"type": "label", "label_id": "l_x", "has": True},
        {"type": "first_message", "is": True},
        {"type": "attribute", "name": "plan", "op": "exists"},
    ]
    assert checked["actions"] == [
        {"type": "assign", "to": "agnes"},
        {"type": "snooze", "minutes": 30},
    ]
    assert rules.references(checked) == [
        ("conditions[1].label_id", "label", "l_x"),
        ("actions[0].to", "member", "agnes"),
    ]


def test_every_trigger_is_accepted() -> None:
    for trigger in (
        {"type": "message_received"},
        {"type": "conversation_created"},
        {"type": "status_changed"},
        {"type": "status_changed", "to": "resolved"},
        {"type": "idle", "minutes": 15},
    ):
        checked = rules.check(rule(trigger=trigger))
        assert checked["trigger"]["type"] == trigger["type"]
    assert rules.check(rule(trigger={"type": "idle", "minutes": 5}))["trigger"] == {
        "type": "idle",
        "minutes": 5,
        "waiting_for": "customer",
    }


def test_mistakes_are_all_named_by_their_path() -> None:
    found = errors_of(
        {
            "name": "",
            "trigger": {"type": "tuesday"},
            "conditions": [
                {"type": "regex", "pattern": "(unclosed"},
                {"type": "keywords", "words": []},
                {"type": "label"},
                {"type": "sentiment"},
                {"type": "business_hours", "is": "sometimes"},
                {"type": "attribute", "name": "Bad Name", "op": "equals", "value": 3},
            ],
            "actions": [
                {"type": "priority", "priority": "extreme"},
                {"type": "snooze", "minutes": 0},
                {"type": "explode"},
                {"type": "reply", "saved_reply_id": "r_1", "text": "inline"},
            ],
            "colour": "red",
        }
    )
    by_path = {e["path"]: e["message"] for e in found}
    assert set(by_path) == {
        "rule.colour",
        "name",
        "trigger.type",
        "conditions[0].pattern",
        "conditions[1].words",
        "conditions[2].label_id",
        "conditions[3].type",
        "conditions[4].is",
        "conditions[5].name",
        "conditions[5].value",
        "actions[0].priority",
        "actions[1].minutes",
        "actions[2].type",
        "actions[3].text",
    }
    assert "tuesday" in by_path["trigger.type"] and "message_received" in by_path["trigger.type"]
    assert "not a valid regular expression" in by_path["conditions[0].pattern"]
    assert "sentiment" in by_path["conditions[3].type"]


def test_fields_that_do_not_belong_and_contradictions_are_refused() -> None:
    assert paths(rule(trigger={"type": "message_received", "minutes": 5})) == ["trigger.minutes"]
    assert paths(rule(trigger={"type": "idle"})) == ["trigger.minutes"]
    assert paths(rule(trigger={"type": "status_changed", "to": "gone"})) == ["trigger.to"]
    assert paths(rule(actions=[])) == ["actions"]
    assert paths(rule(actions=[{"type": "resolve"}, {"type": "snooze", "minutes": 5}])) == [
        "actions"
    ]
    assert paths(rule(actions=[{"type": "resolve"}, {"type": "resolve"}])) == ["actions"]
    assert paths(rule(conditions=[{"type": "keywords", "words": ["x"], "pattern": "y"}])) == [
        "conditions[0].pattern"
    ]
    assert paths(rule(enabled="yes")) == ["enabled"]
    assert paths("a rule") == ["rule", "name", "trigger", "trigger.type", "actions"]


def test_patterns_are_capped_in_length() -> None:
    long = "a" * (rules.PATTERN_MAX + 1)
    assert paths(rule(conditions=[{"type": "regex", "pattern": long}])) == ["conditions[0].pattern"]
    rules.check(rule(conditions=[{"type": "regex", "pattern": "a" * rules.PATTERN_MAX}]))


# --- matching -----------------------------------------------------------------------------


def evaluate(conditions: list[dict[str, Any]], **context: Any) -> rules.Evaluation:
    return rules.evaluate(rules.check(rule(conditions=conditions)), rules.Context(**context))


def test_keywords_match_whole_words_case_insensitively() -> None:
    any_of = [{"type": "keywords", "words": ["refund", "money back"]}]
    assert evaluate(any_of, text="I want a REFUND now").matched
    assert evaluate(any_of, text="give me my money\n back").matched
    assert not evaluate(any_of, text="refunded already").matched  # not the whole word
    result = evaluate(any_of, text="hello")
    assert not result.matched and result.conditions[0]["reason"] == "none of refund, money back"
    all_of = [{"type": "keywords", "words": ["refund", "order"], "match": "all"}]
    assert evaluate(all_of, text="refund my order").matched
    missing = evaluate(all_of, text="refund please")
    assert not missing.matched and missing.conditions[0]["reason"] == "missing: order"
    assert not evaluate(any_of, text=None).matched  # no message (another trigger)


def test_regular_expressions_match_and_say_where() -> None:
    order = [{"type": "regex", "pattern": r"order\s*#?\d{5}"}]
    result = evaluate(order, text="About ORDER #12345 please")
    assert result.matched and result.conditions[0]["reason"] == "matched at 6-18"
    sensitive = [{"type": "regex", "pattern": "ORDER", "case_sensitive": True}]
    assert not evaluate(sensitive, text="order").matched


def test_a_catastrophic_pattern_gives_up_instead_of_stalling() -> None:
    evil = [{"type": "regex", "pattern": r"^(a|aa)+$"}]
    started = time.perf_counter()
    result = evaluate(evil, text="a" * 40 + "!")
    assert time.perf_counter() - started < 2  # without the limit: a Fibonacci number of paths
    assert not result.matched and "gave up" in result.conditions[0]["reason"]


def test_labels_attributes_hours_and_first_message() -> None:
    label = [{"type": "label", "label_id": "l_vip"}]
    assert evaluate(label, label_ids=frozenset({"l_vip"})).matched
    assert not evaluate(label, label_ids=frozenset()).matched
    not_label = [{"type": "label", "label_id": "l_vip", "has": False}]
    assert evaluate(not_label, label_ids=frozenset()).matched
    equals = [{"type": "attribute", "name": "plan", "op": "equals", "value": "Gold"}]
    assert evaluate(equals, attributes={"plan": "gold"}).matched
    assert not evaluate(equals, attributes={"plan": "golden"}).matched
    result = evaluate(equals, attributes={})
    assert not result.matched and result.conditions[0]["reason"] == "no attribute plan"
    contains = [{"type": "attribute", "name": "plan", "op": "contains", "value": "old"}]
    assert evaluate(contains, attributes={"plan": "Golden"}).matched
    exists = [{"type": "attribute", "name": "plan", "op": "exists"}]
    assert evaluate(exists, attributes={"plan": ""}).matched
    closed = [{"type": "business_hours", "is": "closed"}]
    assert evaluate(closed, open_now=False).matched
    assert not evaluate(closed, open_now=True).matched
    first = [{"type": "first_message"}]
    assert evaluate(first, first_message=True).matched
    assert not evaluate(first, first_message=False).matched
    later = [{"type": "first_message", "is": False}]
    assert evaluate(later, first_message=False).matched


def test_all_conditions_must_hold_and_each_is_reported() -> None:
    result = evaluate(
        [
            {"type": "keywords", "words": ["refund"]},
            {"type": "business_hours", "is": "open"},
        ],
        text="refund",
        open_now=False,
    )
    assert not result.matched
    assert [(c["index"], c["type"], c["matched"]) for c in result.conditions] == [
        (0, "keywords", True),
        (1, "business_hours", False),
    ]
    assert result.conditions[1]["reason"] == "the business is closed"
    assert evaluate([], text="anything").matched  # no conditions: always


def test_triggers_hear_their_own_events() -> None:
    any_change = rules.check(rule(trigger={"type": "status_changed"}))
    to_resolved = rules.check(rule(trigger={"type": "status_changed", "to": "resolved"}))
    idle = rules.check(rule(trigger={"type": "idle", "minutes": 10}))
    assert rules.triggered(any_change, "status_changed", status="pending")
    assert rules.triggered(to_resolved, "status_changed", status="resolved")
    assert not rules.triggered(to_resolved, "status_changed", status="open")
    assert not rules.triggered(to_resolved, "message_received")
    assert rules.triggered(idle, "idle", minutes=10)
    assert not rules.triggered(idle, "idle", minutes=20)


# --- round-robin --------------------------------------------------------------------------


def agent(user_id: int, **overrides: Any) -> assignment.Candidate:
    values: dict[str, Any] = {
        "user_id": user_id,
        "role": "agent",
        "available": True,
        "expired": False,
        "open_count": 0,
        "last_assigned_at": None,
        "member_since": user_id,
    }
    values.update(overrides)
    return assignment.Candidate(**values)


def choose(*candidates: assignment.Candidate, capacity: int = 3, roles: Any = ("agent",)) -> Any:
    return assignment.choose(list(candidates), roles=roles, capacity=capacity)


def test_the_least_recently_assigned_available_agent_is_chosen() -> None:
    assert choose(agent(1, last_assigned_at=50), agent(2, last_assigned_at=10)) == 2
    assert choose(agent(1, last_assigned_at=50), agent(2)) == 2  # never assigned goes first
    # a tie: fewer conversations, then the longest on the team
    assert choose(agent(1, open_count=2), agent(2, open_count=1)) == 2
    assert choose(agent(3, member_since=1), agent(2, member_since=5)) == 3


def test_away_expired_full_and_other_roles_are_passed_over() -> None:
    assert choose(agent(1, available=False), agent(2, last_assigned_at=99)) == 2
    assert choose(agent(1, expired=True), agent(2, last_assigned_at=99)) == 2
    assert choose(agent(1, open_count=3), agent(2, open_count=2, last_assigned_at=99)) == 2
    assert choose(agent(1, role="admin"), agent(2, last_assigned_at=99)) == 2
    assert choose(agent(1, role="admin"), roles=("admin", "agent")) == 1
    assert choose(agent(1, open_count=3), agent(2, available=False)) is None
    assert choose() is None


def test_assignment_settings_are_checked() -> None:
    assert assignment.check_settings("round_robin", 5, ["agent", "owner"]) == (
        "round_robin",
        5,
        ("owner", "agent"),
    )
    for mode, capacity, roles in (
        ("sometimes", 5, ["agent"]),
        ("manual", 0, ["agent"]),
        ("manual", 5, []),
        ("manual", 5, ["viewer"]),
    ):
        with pytest.raises(BackchannelError) as caught:
            assignment.check_settings(mode, capacity, roles)
        assert caught.value.code == "invalid_request"
