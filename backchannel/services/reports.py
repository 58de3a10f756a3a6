"""Reports: the facts recorded as a business's inbox works (open→resolved cycles, each
customer wait and the answer that ended it, CSAT ratings), and the metrics computed from
them for a date range — per business, agent, team or label, or as a time series.

Recording happens in the inbox's hooks (services/inbox_hooks.py), in the transaction of
what happened:
- a cycle opens when a conversation enters the inbox and whenever it leaves `resolved`
  (a reopening starts a new cycle, so it never stretches the resolution time of the last);
- a customer's message starts their wait (unless one runs); an answer by a person (or the
  business account itself) ends it: a response row, the cycle's first or a next response.
  Automations (welcome, away, rules, the bot, CSAT) never end a wait;
- the bot's messages (`automation == "bot"`) are counted; a person's answer after the bot's
  is a hand-off; a cycle resolved with the bot's answers and none of a person is the bot's;
- resolving freezes the cycle's assignee and team and, if the business turned CSAT on,
  sends the survey; the customer's "1".."5" (or "4/5", or stars) within `CSAT_WINDOW_MS`
  is the rating, thanked, and it does not reopen the conversation. Any other message
  reopens it as usual, which drops the survey (the cycle it asked about is over).

Reading (owners, admins and viewers — the "reports" action; agents do not) is audited.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backchannel.domain import metrics
from backchannel.domain.hours import DAYS
from backchannel.errors import BackchannelError
from backchannel.services import business, inbox_state, webhooks
from backchannel.services.core import Core, Requester
from backchannel.services.views import iso, user_view
from backchannel.store import accounts as user_db
from backchannel.store import business as business_db
from backchannel.store import conversations as conv_db
from backchannel.store import reports as db
from backchannel.store import workspace as workspace_db
from backchannel.store.database import WriteTxn

Row = Mapping[Any, Any]

CSAT_WINDOW_MS = 7 * 24 * 3600 * 1000  # a survey is answerable for a week
CSAT_QUESTION = "How did we do? Reply 1 (bad) to 5 (great)."
CSAT_THANKS = "Thank you for your feedback!"
CSAT_TEXT_MAX = 500
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
GROUPINGS = ("business", "agent", "team", "label")
INTERVALS = ("day", "week")


# --- recording: the inbox's hooks ---------------------------------------------------------


def _open_cycle(t: WriteTxn, business_id: int, conversation_id: int) -> Row:
    """The conversation's open cycle: the current one, or a new one (a conversation from
    before reports were recorded, or one whose last cycle is resolved)."""
    cycle = db.latest_cycle(t.conn, business_id, conversation_id)
    if cycle is not None and cycle["resolved_at"] is None:
        return cycle
    state = business_db.state_by_ids(t.conn, business_id, conversation_id)
    db.open_cycle(
        t.conn,
        business_id=business_id,
        conversation_id=conversation_id,
        now=t.now_ms,
        assignee_id=None if state is None else state["assignee_id"],
        team_id=None if state is None else state["team_id"],
    )
    found = db.latest_cycle(t.conn, business_id, conversation_id)
    assert found is not None
    return found


def _current_cycle(t: WriteTxn, business_id: int, conversation_id: int) -> Row | None:
    cycle = db.latest_cycle(t.conn, business_id, conversation_id)
    return cycle if cycle is not None and cycle["resolved_at"] is None else None


def on_conversation_created(t: WriteTxn, business_id: int, conversation_id: int) -> None:
    _open_cycle(t, business_id, conversation_id)


def on_customer_message(
    t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]
) -> None:
    cycle = _open_cycle(t, business_id, int(conversation["id"]))
    values = {"waiting_since": t.now_ms} if cycle["waiting_since"] is None else {}
    db.count_message(t.conn, int(cycle["id"]), "customer_messages", **values)


def on_business_message(
    t: WriteTxn,
    business_id: int,
    conversation: Row,
    message: dict[str, Any],
    *,
    agent_id: int | None,
    automation_kind: str | None,
) -> None:
    """The bot's messages are counted; other automations are nothing to reports. A person's
    (or the business account's own) message ends the customer's wait. After a resolution,
    until the conversation reopens, the business's messages belong to no cycle."""
    if automation_kind is not None and automation_kind != "bot":
        return
    cycle = _current_cycle(t, business_id, int(conversation["id"]))
    if cycle is None:
        return
    cycle_id = int(cycle["id"])
    if automation_kind == "bot":
        db.count_message(t.conn, cycle_id, "bot_messages")
        return
    responder = agent_id if agent_id is not None else business_id
    values: dict[str, Any] = {}
    if cycle["waiting_since"] is not None:
        db.insert_response(
            t.conn,
            business_id=business_id,
            cycle_id=cycle_id,
            waited_from=int(cycle["waiting_since"]),
            answered_at=t.now_ms,
            responder_id=responder,
            first=cycle["first_responder_id"] is None,
        )
        values["waiting_since"] = None
        if cycle["first_responder_id"] is None:
            values["first_responder_id"] = responder
    if cycle["bot_messages"] and cycle["handoff_at"] is None:
        values["handoff_at"] = t.now_ms
    db.count_message(t.conn, cycle_id, "agent_messages", **values)


def on_state_changed(
    t: WriteTxn, business_id: int, conversation_id: int, before: Row, after: Row, *, by: int | None
) -> None:
    """Leaving `resolved` opens a cycle, entering it ends one (and sends the survey); other
    changes of an open cycle follow its assignee and team. A resolved cycle stays as it was
    resolved (a later triage of the resolved conversation changes none of its facts)."""
    was_resolved = before["status"] == "resolved"
    resolved = after["status"] == "resolved"
    if was_resolved:
        if not resolved:
            _open_cycle(t, business_id, conversation_id)
        return
    cycle = _open_cycle(t, business_id, conversation_id)
    values: dict[str, Any] = {"assignee_id": after["assignee_id"], "team_id": after["team_id"]}
    if resolved and not was_resolved:
        values.update(resolved_at=t.now_ms, resolved_by=by, waiting_since=None)
        db.update_cycle(t.conn, int(cycle["id"]), **values)
        if cycle["customer_messages"]:
            _send_survey(t, business_id, conversation_id, int(cycle["id"]))
        return
    if (cycle["assignee_id"], cycle["team_id"]) != (after["assignee_id"], after["team_id"]):
        db.update_cycle(t.conn, int(cycle["id"]), **values)


def _send_survey(t: WriteTxn, business_id: int, conversation_id: int, cycle_id: int) -> None:
    """The CSAT question, if the business turned it on — not in a request it never accepted."""
    config = db.settings(t.conn, business_id)
    if config is None or not config["csat_enabled"]:
        return
    pid = conv_db.conversation_pid(t.conn, conversation_id)
    conversation = conv_db.conversation_for_member(t.conn, pid, business_id)
    if conversation is None or conversation["request_state"] is not None:
        return
    question = config["csat_question"] or CSAT_QUESTION
    inbox_state.send_as_business_in_txn(t, business_id, conversation, question, automation="csat")
    db.update_cycle(t.conn, cycle_id, csat_sent_at=t.now_ms)


def take_answer(t: WriteTxn, business_id: int, conversation: Row, message: dict[str, Any]) -> bool:
    """Whether the customer's `message` is the rating of a pending CSAT survey (the last
    cycle's, asked within `CSAT_WINDOW_MS`, not yet answered); if it is, it is recorded
    and thanked (and `csat.received` goes to the business's webhooks)."""
    cycle = db.latest_cycle(t.conn, business_id, int(conversation["id"]))
    if cycle is None or cycle["resolved_at"] is None or cycle["csat_sent_at"] is None:
        return False
    if cycle["csat_score"] is not None or t.now_ms - cycle["csat_sent_at"] > CSAT_WINDOW_MS:
        return False
    score = metrics.parse_rating(message.get("text"))
    if score is None:
        return False
    db.update_cycle(t.conn, int(cycle["id"]), csat_score=score, csat_at=t.now_ms)
    config = db.settings(t.conn, business_id)
    thanks = (config["csat_thanks"] if config is not None else None) or CSAT_THANKS
    inbox_state.send_as_business_in_txn(t, business_id, conversation, thanks, automation="csat")
    agent = _agent_of(cycle)
    agent_row = None if agent is None else user_db.user_by_id(t.conn, agent)
    webhooks.queue(
        t,
        business_id,
        "csat.received",
        {
            "conversation_id": conversation["pid"],
            "score": score,
            "agent": None if agent_row is None else user_view(agent_row),
            "rated_at": iso(t.now_ms),
        },
    )
    return True


def _agent_of(cycle: Row) -> int | None:
    """Whose cycle it is: its assignee (when resolved), else whoever answered first."""
    agent = cycle["assignee_id"] or cycle["first_responder_id"]
    return None if agent is None else int(agent)


# --- settings -----------------------------------------------------------------------------


def _settings_view(t: WriteTxn, business_id: int) -> dict[str, Any]:
    row = db.settings(t.conn, business_id)
    return {
        "csat_enabled": bool(row is not None and row["csat_enabled"]),
        "csat_question": (row["csat_question"] if row is not None else None) or CSAT_QUESTION,
        "csat_thanks": (row["csat_thanks"] if row is not None else None) or CSAT_THANKS,
    }


async def get_settings(core: Core, requester: Requester, handle: str) -> dict[str, Any]:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "reports")
        return _settings_view(t, int(team.business["id"]))

    return await core.store.write("reports_settings", txn)


def _csat_text(raw: str | None, name: str) -> str | None:
    text = (raw or "").strip()
    if len(text) > CSAT_TEXT_MAX:
        raise BackchannelError("invalid_request", f"{name} has at most {CSAT_TEXT_MAX} characters.")
    return text or None  # empty: back to the default


async def update_settings(
    core: Core, requester: Requester, handle: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Turn the CSAT survey on or off, change its question or its thank-you (null or empty:
    the default). Owners and admins."""
    values: dict[str, Any] = {}
    if changes.get("csat_enabled") is not None:
        values["csat_enabled"] = int(bool(changes["csat_enabled"]))
    for name in ("csat_question", "csat_thanks"):
        if name in changes:
            values[name] = _csat_text(changes[name], name)
    if not values:
        raise BackchannelError("invalid_request", "Nothing to change.")

    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "manage_settings")
        business_id = int(team.business["id"])
        db.put_settings(t.conn, business_id, now=t.now_ms, **values)
        business.audit_in_txn(
            t, team, requester, "reports.settings_updated", changed=sorted(values)
        )
        return _settings_view(t, business_id)

    return await core.store.write("reports_update_settings", txn)


# --- reading: the range, the groups -------------------------------------------------------


def _zone(t: WriteTxn, team: business.Team) -> ZoneInfo:
    row = business_db.business(t.conn, team.business["id"])
    return ZoneInfo(row["timezone"] if row is not None else "UTC")


def _when(raw: str, zone: ZoneInfo, name: str) -> datetime:
    """A date (midnight in the business's time zone) or an instant (without an offset: in
    the business's time zone)."""
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(), tzinfo=zone)
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise BackchannelError(
            "invalid_range", f"{name} is a date (YYYY-MM-DD) or an ISO 8601 instant; got {raw!r}."
        ) from None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=zone)


def _range(
    t: WriteTxn, zone: ZoneInfo, start_raw: str | None, end_raw: str | None
) -> tuple[int, int]:
    """[from, to) in ms: by default the last 30 days up to now; at most 366 days."""
    now = datetime.fromtimestamp(t.now_ms / 1000, UTC)
    end = now if end_raw is None else _when(end_raw, zone, "to")
    start = (
        end - timedelta(days=DEFAULT_RANGE_DAYS)
        if start_raw is None
        else _when(start_raw, zone, "from")
    )
    if start >= end:
        raise BackchannelError("invalid_range", "from must come before to.")
    if end - start > timedelta(days=MAX_RANGE_DAYS):
        raise BackchannelError("invalid_range", f"A range spans at most {MAX_RANGE_DAYS} days.")
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _cycle(row: Row) -> metrics.Cycle:
    return metrics.Cycle(
        opened_at=int(row["opened_at"]),
        resolved_at=None if row["resolved_at"] is None else int(row["resolved_at"]),
        customer_messages=int(row["customer_messages"]),
        agent_messages=int(row["agent_messages"]),
        bot_messages=int(row["bot_messages"]),
        handoff=row["handoff_at"] is not None,
    )


Keys = Callable[[Row, int], Iterable[Hashable]]  # (a fact's row, its time) -> its groups


def _facts(
    cycles: Sequence[Row],
    responses: Sequence[Row],
    start: int,
    end: int,
    cycle_keys: Keys,
    response_keys: Keys,
) -> dict[Hashable, metrics.Facts]:
    """Each group's facts within [start, end): a cycle counts where it was opened, resolved
    and rated, each at its own time; a response where it was answered."""
    groups: dict[Hashable, metrics.Facts] = defaultdict(metrics.Facts)

    def within(at: int | None) -> bool:
        return at is not None and start <= at < end

    for row in cycles:
        cycle = _cycle(row)
        if within(row["opened_at"]):
            for key in cycle_keys(row, int(row["opened_at"])):
                groups[key].opened.append(cycle)
        if within(row["resolved_at"]):
            for key in cycle_keys(row, int(row["resolved_at"])):
                groups[key].resolved.append(cycle)
        if within(row["csat_at"]) and row["csat_score"] is not None:
            for key in cycle_keys(row, int(row["csat_at"])):
                groups[key].ratings.append(int(row["csat_score"]))
    for row in responses:
        pair = (int(row["waited_from"]), int(row["answered_at"]))
        for key in response_keys(row, int(row["answered_at"])):
            facts = groups[key]
            (facts.first_responses if row["first"] else facts.next_responses).append(pair)
    return groups


class _Report:
    """One read of a business's facts for a range, and how to measure durations."""

    def __init__(
        self,
        t: WriteTxn,
        team: business.Team,
        start_raw: str | None,
        end_raw: str | None,
        business_hours: bool,
    ) -> None:
        self.t = t
        self.business_id = int(team.business["id"])
        self.zone = _zone(t, team)
        self.start, self.end = _range(t, self.zone, start_raw, end_raw)
        self.cycles = db.cycles_in(t.conn, self.business_id, self.start, self.end)
        self.responses = db.responses_in(t.conn, self.business_id, self.start, self.end)
        self.business_hours = business_hours
        row = business_db.business(t.conn, self.business_id)
        schedule = inbox_state.schedule_of(row) if business_hours and row is not None else None
        self.duration = metrics.open_seconds(schedule) if business_hours else metrics.wall_seconds

    def head(self) -> dict[str, Any]:
        return {
            "from": iso(self.start),
            "to": iso(self.end),
            "timezone": self.zone.key,
            "business_hours": self.business_hours,
        }

    def summarize(self, cycle_keys: Keys, response_keys: Keys) -> dict[Hashable, dict[str, Any]]:
        groups = _facts(
            self.cycles, self.responses, self.start, self.end, cycle_keys, response_keys
        )
        return {key: metrics.summarize(facts, self.duration) for key, facts in groups.items()}

    def total(self) -> dict[str, Any]:
        every: Keys = lambda _row, _at: ("all",)  # noqa: E731
        return self.summarize(every, every).get("all") or metrics.summarize(
            metrics.Facts(), self.duration
        )

    def grouped(self, group_by: str) -> list[dict[str, Any]]:
        """The groups' rows, named (`group` null: unassigned, no team or no label)."""
        if group_by == "business":
            account = user_db.user_by_id(self.t.conn, self.business_id)
            assert account is not None
            name = {"kind": "business", "id": account["pid"], "name": account["display_name"]}
            return [{"group": name, **self.total()}]
        cycle_keys, response_keys, name_of = self._grouping(group_by)
        rows = self.summarize(cycle_keys, response_keys)
        named = [(name_of(key), row) for key, row in rows.items()]
        named.sort(key=lambda pair: (pair[0] is None, (pair[0] or {}).get("name") or ""))
        return [{"group": name, **row} for name, row in named]

    def _grouping(
        self, group_by: str
    ) -> tuple[Keys, Keys, Callable[[Hashable], dict[str, Any] | None]]:
        conn = self.t.conn
        if group_by == "agent":

            def agent_name(key: Hashable) -> dict[str, Any] | None:
                user = None if key is None else user_db.user_by_id(conn, int(key))  # type: ignore[call-overload]
                if user is None:
                    return None
                return {"kind": "agent", "id": user["pid"], "name": user["display_name"]}

            return (
                lambda row, _at: (_agent_of(row),),
                lambda row, _at: (int(row["responder_id"]),),
                agent_name,
            )
        if group_by == "team":

            def team_name(key: Hashable) -> dict[str, Any] | None:
                if key is None:
                    return None
                found = workspace_db.team_by_id(conn, int(key))  # type: ignore[call-overload]
                name = None if found is None else found["name"]
                pid = None if found is None else found["pid"]
                return {"kind": "team", "id": pid, "name": name}

            by_team: Keys = lambda row, _at: (row["team_id"],)  # noqa: E731
            return by_team, by_team, team_name
        ids = sorted({int(row["conversation_id"]) for row in [*self.cycles, *self.responses]})
        tagged = business_db.labels_for(conn, self.business_id, ids)
        labels = {int(label["id"]): label for found in tagged.values() for label in found}

        def by_label(row: Row, _at: int) -> Iterable[Hashable]:
            return [int(label["id"]) for label in tagged.get(int(row["conversation_id"]), [])] or [
                None
            ]

        def label_name(key: Hashable) -> dict[str, Any] | None:
            label = None if key is None else labels[int(key)]  # type: ignore[call-overload]
            if label is None:
                return None
            return {"kind": "label", "id": label["pid"], "name": label["name"]}

        return by_label, by_label, label_name


def _read(
    core: Core,
    requester: Requester,
    handle: str,
    name: str,
    build: Callable[[WriteTxn, business.Team], dict[str, Any]],
    **detail: Any,
) -> Any:
    def txn(t: WriteTxn) -> dict[str, Any]:
        team = business.gate(t, requester, handle, "reports")
        result = build(t, team)
        business.audit_in_txn(t, team, requester, name, **detail)
        return result

    return core.store.write(name.replace(".", "_"), txn)


async def report(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    start: str | None,
    end: str | None,
    group_by: str,
    business_hours: bool,
    export: bool = False,
) -> dict[str, Any]:
    """The metrics of [start, end) per group (see domain/metrics.summarize), and in total
    (`export`: for the CSV download, audited as such)."""
    if group_by not in GROUPINGS:
        raise BackchannelError("invalid_request", f"group_by is one of {', '.join(GROUPINGS)}.")

    def build(t: WriteTxn, team: business.Team) -> dict[str, Any]:
        read = _Report(t, team, start, end, business_hours)
        return {
            **read.head(),
            "group_by": group_by,
            "total": read.total(),
            "groups": read.grouped(group_by),
        }

    action = "reports.exported" if export else "reports.read"
    result: dict[str, Any] = await _read(
        core, requester, handle, action, build, start=start, end=end, group_by=group_by
    )
    return result


async def series(
    core: Core,
    requester: Requester,
    handle: str,
    *,
    start: str | None,
    end: str | None,
    interval: str,
    business_hours: bool,
) -> dict[str, Any]:
    """The metrics of each day or week (in the business's time zone; weeks start on
    Monday) within [start, end): a point for every interval, empty ones too."""
    if interval not in INTERVALS:
        raise BackchannelError("invalid_request", f"interval is one of {', '.join(INTERVALS)}.")

    def build(t: WriteTxn, team: business.Team) -> dict[str, Any]:
        read = _Report(t, team, start, end, business_hours)

        def bucket(_row: Row, at: int) -> Iterable[Hashable]:
            day = datetime.fromtimestamp(at / 1000, read.zone).date()
            return (day - timedelta(days=day.weekday()) if interval == "week" else day,)

        rows = read.summarize(bucket, bucket)
        empty = metrics.summarize(metrics.Facts(), read.duration)
        points = []
        for day in _buckets(read.start, read.end, read.zone, interval):
            row = rows.get(day) or empty
            points.append({"start": day.isoformat(), **row})
        return {**read.head(), "interval": interval, "points": points}

    result: dict[str, Any] = await _read(
        core, requester, handle, "reports.series", build, start=start, end=end, interval=interval
    )
    return result


def _buckets(start: int, end: int, zone: ZoneInfo, interval: str) -> list[date]:
    first = datetime.fromtimestamp(start / 1000, zone).date()
    last = datetime.fromtimestamp((end - 1) / 1000, zone).date()
    step = timedelta(days=7 if interval == "week" else 1)
    if interval == "week":
        first -= timedelta(days=first.weekday())
    days = []
    while first <= last:
        days.append(first)
        first += step
    return days


async def volume_by_hour(
    core: Core, requester: Requester, handle: str, *, start: str | None, end: str | None
) -> dict[str, Any]:
    """How many cycles opened (new and reopened conversations) in each hour of the week,
    in the business's time zone: `counts[day][hour]`, Monday first."""

    def build(t: WriteTxn, team: business.Team) -> dict[str, Any]:
        read = _Report(t, team, start, end, False)
        counts = [[0] * 24 for _ in DAYS]
        for row in read.cycles:
            if read.start <= row["opened_at"] < read.end:
                local = datetime.fromtimestamp(row["opened_at"] / 1000, read.zone)
                counts[local.weekday()][local.hour] += 1
        head = read.head()
        del head["business_hours"]
        return {**head, "days": list(DAYS), "counts": counts}

    result: dict[str, Any] = await _read(
        core, requester, handle, "reports.volume", build, start=start, end=end
    )
    return result


# --- CSV ----------------------------------------------------------------------------------

_DURATIONS = ("first_response", "next_response", "resolution")
CSV_COLUMNS = (
    "group_kind",
    "group_id",
    "group_name",
    "from",
    "to",
    "conversations",
    "resolved",
    "resolution_rate",
    *(f"{name}_{part}" for name in _DURATIONS for part in ("count", "median_s", "p90_s", "mean_s")),
    "messages_per_resolution",
    "bot_conversations",
    "bot_resolution_rate",
    "handoff_rate",
    "csat_count",
    "csat_mean",
    *(f"csat_{rating}" for rating in metrics.RATINGS),
    "csat_satisfied_rate",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting like a formula gets a quote."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


def to_csv(result: dict[str, Any]) -> str:
    """A `report`'s rows as CSV (RFC 4180, a header line, the total first as group `all`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    total = {"group": {"kind": "all", "id": None, "name": None}, **result["total"]}
    for row in [total, *result["groups"]]:
        group = row["group"] or {"kind": result["group_by"], "id": None, "name": None}
        cells: list[Any] = [group["kind"], group["id"], group["name"], result["from"], result["to"]]
        cells += [row["conversations"], row["resolved"], row["resolution_rate"]]
        for name in _DURATIONS:
            cells += [row[name][part] for part in ("count", "median_s", "p90_s", "mean_s")]
        cells += [
            row["messages_per_resolution"],
            row["bot_conversations"],
            row["bot_resolution_rate"],
            row["handoff_rate"],
            row["csat"]["count"],
            row["csat"]["mean"],
            *(row["csat"]["distribution"][str(r)] for r in metrics.RATINGS),
            row["csat"]["satisfied_rate"],
        ]
        writer.writerow([_cell(cell) for cell in cells])
    return out.getvalue()
