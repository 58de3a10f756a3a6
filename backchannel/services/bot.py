"""The FAQ bot: a business's knowledge list answers its customers' questions as the
business, with quick replies (buttons), and hands the conversation over to the team when the
customer asks for a person or the bot is unsure (domain/faq.py decides).

The bot speaks only while it is on, in a conversation that is not assigned to anyone and not
handed off, and never in a request the business has not accepted. Once it hands off — or a
person writes for the business there — it stays quiet in that conversation until the
conversation is resolved. Its messages carry the
automation `bot` (reports count them apart from the team's). Everything it does happens in
the transaction of the customer's message (services/inbox_hooks.py calls it).

Module imports only (`business`, `inbox_state`): those modules import this one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from backchannel.domain import faq, templates
from backchannel.domain.ids import new_id
from backchannel.errors import BackchannelError
from backchannel.services import business, inbox_state
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso
from backchannel.store import accounts as user_db
from backchannel.store import bot as db
from backchannel.store import business as business_db
from backchannel.store import conversations as conv_db
from backchannel.store import workspace as workspace_db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]
HANDOFF_BUTTON = "handoff"

# --- the hooks (services/inbox_hooks.py) ----------------------------------------------------


def take_answer(t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]) -> bool:
    """A tap on one of the bot's buttons (the customer's text is the label of a button it
    offered last) that an entry answers: the bot answers it and takes the message — it does
    not reopen the conversation or start the customer's wait. The hand-off button is not
    taken: the customer then waits for a person (`on_customer_message` hands off)."""
    active = _active(t, business_id, conversation, message)
    if active is None:
        return False
    settings, state = active
    offered = db.loads(state["offered"]) if state is not None else []
    label = faq.tapped(message["text"], offered)
    if label is None or faq.tapped(label, [settings["handoff_label"]]):
        return False
    entries = db.entries(t.conn, business_id)
    decision = _decide(label, entries, settings)
    if decision.action != "answer":
        return False
    _answer(t, business_id, conversation, settings, state, _entry(entries, decision.entry))
    return True


def on_customer_message(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> None:
    """The customer wrote: answer a matched question, or hand off (asked for, or unsure)."""
    active = _active(t, business_id, conversation, message)
    if active is None:
        return
    settings, state = active
    entries = db.entries(t.conn, business_id)
    decision = _decide(message["text"], entries, settings)
    if decision.action == "answer":
        _answer(t, business_id, conversation, settings, state, _entry(entries, decision.entry))
    elif decision.action == "handoff":
        _hand_off(t, business_id, conversation, settings, state, "asked")
    else:
        _hand_off(t, business_id, conversation, settings, state, "unsure")


def on_business_message(
    t: WriteTxn,
    business_id: int,
    conversation: Row,
    message: dict[str, Any],
    *,
    agent_id: int | None,
    automation_kind: str | None,
) -> None:
    """A person wrote for the business (a teammate, or the account itself — not an
    automation): the team has taken the conversation over, and the bot leaves it to them
    until it is resolved."""
    if automation_kind is not None:
        return
    conversation_id = int(conversation["id"])
    state = db.conversation(t.conn, business_id, conversation_id)
    if state is not None and state["handed_off_at"] is not None:
        return
    if db.settings(t.conn, business_id) is None:
        return  # no bot: nothing to remember
    db.put_conversation(
        t.conn,
        business_id,
        conversation_id,
        now=t.now_ms,
        handed_off_at=t.now_ms,
        handoff_reason="team",
        offered=None,
    )


def on_state_changed(
    t: WriteTxn,
    business_id: int,
    conversation_id: int,
    before: Row,
    after: Row,
    *,
    by: int | None,
    reason: str | None,
) -> None:
    """A conversation resolved: the bot may speak in it again (from the next question)."""
    if after["status"] != "resolved" or before["status"] == "resolved":
        return
    state = db.conversation(t.conn, business_id, conversation_id)
    if state is not None and (state["handed_off_at"] is not None or state["offered"]):
        db.put_conversation(
            t.conn,
            business_id,
            conversation_id,
            now=t.now_ms,
            handed_off_at=None,
            handoff_reason=None,
            offered=None,
        )


def _active(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> tuple[Row, Row | None] | None:
    """(the bot's settings, its state in the conversation) when the bot may speak there."""
    if message.get("kind", "text") != "text" or not message.get("text"):
        return None
    settings = db.settings(t.conn, business_id)
    if settings is None or not settings["enabled"]:
        return None
    working = business_db.state_by_ids(t.conn, business_id, int(conversation["id"]))
    if working is None or working["assignee_id"] is not None:
        return None
    state = db.conversation(t.conn, business_id, int(conversation["id"]))
    if state is not None and state["handed_off_at"] is not None:
        return None
    own = conv_db.conversation_for_member(t.conn, conversation["pid"], business_id)
    account = user_db.user_by_id(t.conn, business_id)
    if own is None or own["request_state"] is not None:
        return None  # an answer would accept the request
    if account is None or account["deactivated_at"] is not None:
        return None
    return settings, state


def _decide(text: str, entries: Sequence[Row], settings: Row) -> faq.Decision:
    return faq.decide(
        text,
        [
            faq.Entry.of(
                e["pid"], e["question"], db.loads(e["alternatives"]), db.loads(e["keywords"])
            )
            for e in entries
        ],
        threshold=int(settings["threshold"]),
        handoff_label=str(settings["handoff_label"]),
    )


def _entry(entries: Sequence[Row], pid: str | None) -> Row:
    (entry,) = [e for e in entries if e["pid"] == pid]
    return entry


def _greet(
    t: WriteTxn, business_id: int, conversation: Row, settings: Row, state: Row | None
) -> None:
    """The bot's greeting, before its first words in a conversation."""
    if settings["greeting"] and (state is None or state["greeted_at"] is None):
        inbox_state.send_as_business_in_txn(
            t, business_id, conversation, settings["greeting"], automation="bot"
        )
        db.put_conversation(
            t.conn, business_id, int(conversation["id"]), now=t.now_ms, greeted_at=t.now_ms
        )


def _answer(
    t: WriteTxn,
    business_id: int,
    conversation: Row,
    settings: Row,
    state: Row | None,
    entry: Row,
) -> None:
    """Answer with the entry (its variables filled in), its buttons and the hand-off one."""
    _greet(t, business_id, conversation, settings, state)
    labels = [*db.loads(entry["quick_replies"]), settings["handoff_label"]]
    text = templates.render(entry["answer"], _values(t, business_id, conversation))
    inbox_state.send_as_business_in_txn(
        t,
        business_id,
        conversation,
        text,
        automation="bot",
        quick_replies=buttons(labels),
    )
    db.put_conversation(t.conn, business_id, int(conversation["id"]), now=t.now_ms, offered=labels)


def buttons(labels: list[str]) -> list[dict[str, str]]:
    """Quick replies as a message carries them: the last is the hand-off button."""
    ids = [str(n) for n in range(1, len(labels))] + [HANDOFF_BUTTON]
    return [{"id": i, "label": label} for i, label in zip(ids, labels, strict=True)]


def _hand_off(
    t: WriteTxn,
    business_id: int,
    conversation: Row,
    settings: Row,
    state: Row | None,
    reason: str,
) -> None:
    """Tell the customer a person will answer, and the team that the conversation is
    theirs (`business.conversation_updated`, reason `bot_handoff`); then stay quiet."""
    text = settings["handoff_text"] if reason == "asked" else settings["unsure_text"]
    _greet(t, business_id, conversation, settings, state)
    inbox_state.send_as_business_in_txn(t, business_id, conversation, text, automation="bot")
    db.put_conversation(
        t.conn,
        business_id,
        int(conversation["id"]),
        now=t.now_ms,
        handed_off_at=t.now_ms,
        handoff_reason=reason,
        offered=None,
    )
    inbox_state.change_state(
        t,
        business_id,
        int(conversation["id"]),
        by=None,
        reason="bot_handoff",
        status="open",
        snoozed_until=None,
    )


def _values(t: WriteTxn, business_id: int, conversation: Row) -> dict[str, str | None]:
    """The variables of an answer: the customer's (the business's name for them first) and
    the business's; there is no agent (their variables take their fallbacks)."""
    working = business_db.state_by_ids(t.conn, business_id, int(conversation["id"]))
    customer = None if working is None else user_db.user_by_id(t.conn, working["customer_id"])
    account = user_db.user_by_id(t.conn, business_id)
    found = None if customer is None else workspace_db.contact(t.conn, business_id, customer["id"])
    name = (found["name"] if found else None) or (
        customer["display_name"] if customer and customer["deactivated_at"] is None else ""
    )
    return {
        "customer.name": name,
        "customer.first_name": templates.first_name(name),
        "customer.handle": customer["handle"] if customer else None,
        "business.name": account["display_name"] if account else None,
    }


# --- settings -------------------------------------------------------------------------------


def _settings_view(row: Row | None) -> dict[str, Any]:
    if row is None:
        return {
            "enabled": False,
            "greeting": None,
            **faq.DEFAULTS,
            "threshold": faq.DEFAULT_THRESHOLD,
            "updated_at": None,
        }
    return {
        "enabled": bool(row["enabled"]),
        "greeting": row["greeting"],
        "unsure_text": row["unsure_text"],
        "handoff_text": row["handoff_text"],
        "handoff_label": row["handoff_label"],
        "threshold": row["threshold"],
        "updated_at": iso(row["updated_at"]),
    }


async def get_settings(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        return _settings_view(db.settings(t.conn, int(team.business["id"])))

    return await core.store.write("bot_settings", txn)


def _check_settings(changes: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "enabled" in changes:
        values["enabled"] = 1 if changes["enabled"] else 0
    if "greeting" in changes:
        greeting = (changes["greeting"] or "").strip()
        values["greeting"] = faq.check_bot_text(greeting, "The greeting") if greeting else None
    for name, what in (("unsure_text", "The unsure text"), ("handoff_text", "The hand-off text")):
        if name in changes:
            values[name] = faq.check_bot_text(changes[name] or "", what)
    if "handoff_label" in changes:
        values["handoff_label"] = faq.check_label(changes["handoff_label"] or "")
    if "threshold" in changes:
        values["threshold"] = faq.check_threshold(int(changes["threshold"] or 0))
    if not values:
        raise BackchannelError("invalid_request", "Nothing to change.")
    return values


async def update_settings(
    core: Core, requester: Requester, handle: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Turn the bot on or off; change its greeting, texts, hand-off label or threshold."""
    values = _check_settings(changes)

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_bot")
        business_id = int(team.business["id"])
        current = _settings_view(db.settings(t.conn, business_id))
        merged = {k: current[k] for k in (*faq.DEFAULTS, "greeting", "threshold")}
        merged["enabled"] = 1 if current["enabled"] else 0
        db.put_settings(t.conn, business_id, **{**merged, **values, "updated_at": t.now_ms})
        business.audit_in_txn(t, team, requester, "bot.updated", changed=sorted(changes))
        return _settings_view(db.settings(t.conn, business_id))

    return await core.store.write("bot_update_settings", txn)


# --- the knowledge list ---------------------------------------------------------------------


def _entry_view(row: Row) -> dict[str, Any]:
    return {
        "id": row["pid"],
        "question": row["question"],
        "alternatives": db.loads(row["alternatives"]),
        "keywords": db.loads(row["keywords"]),
        "answer": row["answer"],
        "quick_replies": db.loads(row["quick_replies"]),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def _check_entry(fields: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "question" in fields:
        values["question"] = faq.check_question(fields["question"] or "")
    if "alternatives" in fields:
        values["alternatives"] = faq.check_phrases(
            fields["alternatives"] or [], "alternatives", faq.QUESTION_MAX
        )
    if "keywords" in fields:
        values["keywords"] = faq.check_phrases(
            fields["keywords"] or [], "keywords", faq.KEYWORD_MAX
        )
    if "answer" in fields:
        values["answer"] = faq.check_answer(fields["answer"] or "")
    if "quick_replies" in fields:
        values["quick_replies"] = faq.check_quick_replies(fields["quick_replies"] or [])
    return values


async def entries(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        return {"items": [_entry_view(r) for r in db.entries(t.conn, int(team.business["id"]))]}

    return await core.store.write("bot_entries", txn)


async def create_entry(
    core: Core, requester: Requester, handle: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """A knowledge entry {question, alternatives?, keywords?, answer, quick_replies?}."""
    values = _check_entry({"alternatives": [], "keywords": [], "quick_replies": [], **fields})

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_bot")
        business_id = int(team.business["id"])
        if db.count_entries(t.conn, business_id) >= faq.ENTRIES_MAX:
            raise BackchannelError(
                "invalid_request", f"A bot knows at most {faq.ENTRIES_MAX} entries."
            )
        pid = new_id("fq")
        db.insert_entry(
            t.conn,
            pid=pid,
            business_id=business_id,
            created_at=t.now_ms,
            updated_at=t.now_ms,
            **values,
        )
        business.audit_in_txn(t, team, requester, "bot.entry_created", question=values["question"])
        return _entry_view(_found(t, business_id, pid))

    return await core.store.write("bot_create_entry", txn)


async def update_entry(
    core: Core, requester: Requester, handle: str, entry_pid: str, fields: dict[str, Any]
) -> dict[str, Any]:
    values = _check_entry(fields)
    if not values:
        raise BackchannelError("invalid_request", "Nothing to change.")

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_bot")
        business_id = int(team.business["id"])
        row = _found(t, business_id, entry_pid)
        db.update_entry(t.conn, int(row["id"]), updated_at=t.now_ms, **values)
        business.audit_in_txn(t, team, requester, "bot.entry_updated", question=row["question"])
        return _entry_view(_found(t, business_id, entry_pid))

    return await core.store.write("bot_update_entry", txn)


async def delete_entry(core: Core, requester: Requester, handle: str, entry_pid: str) -> None:
    def txn(t: WriteTxn) -> None:
        team = business.gate(t, requester, handle, "manage_bot")
        row = _found(t, int(team.business["id"]), entry_pid)
        db.delete_entry(t.conn, int(row["id"]))
        business.audit_in_txn(t, team, requester, "bot.entry_deleted", question=row["question"])

    await core.store.write("bot_delete_entry", txn)


def _found(t: WriteTxn, business_id: int, pid: str) -> Row:
    row = db.entry_by_pid(t.conn, business_id, pid)
    if row is None:
        raise BackchannelError("bot_entry_not_found", "No such entry in the bot's knowledge.")
    return row


async def try_bot(core: Core, requester: Requester, handle: str, text: str) -> dict[str, Any]:
    """What the bot would answer to `text`, on or off (writes nothing; the customer's
    variables take their fallbacks): {action, score, entry, text, quick_replies}."""
    if not text.strip():
        raise BackchannelError("invalid_request", "Try the bot with some text.")

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "read")
        business_id = int(team.business["id"])
        settings = _settings_view(db.settings(t.conn, business_id))
        rows = db.entries(t.conn, business_id)
        decision = _decide(text, rows, settings)
        if decision.action == "answer":
            entry = _entry(rows, decision.entry)
            labels = [*db.loads(entry["quick_replies"]), settings["handoff_label"]]
            return {
                "action": "answer",
                "score": decision.score,
                "entry": _entry_view(entry),
                "text": templates.render(
                    entry["answer"], {"business.name": team.business["display_name"]}
                ),
                "quick_replies": buttons(labels),
            }
        said = settings["handoff_text"] if decision.action == "handoff" else settings["unsure_text"]
        return {
            "action": decision.action,
            "score": decision.score,
            "entry": None,
            "text": said,
            "quick_replies": [],
        }

    return await core.store.write("bot_try", txn)
