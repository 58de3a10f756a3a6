"""Property: from any token ever handed out, each user's sync is exactly what they may see.

Random sequences of operations among four users run through the services. An
independent model keeps memberships (a user sees a conversation's events from
joining to leaving, both inclusive), which messages each member can see, and
which events each operation should emit to whom. Then, for every user and every
token: the events after it, paged through `limited`, are exactly the expected
ones, once each, in increasing position order. Operations that must fail (a
stranger writing, a message from before joining) must fail and emit nothing.

Blocks (domain/policy.py) emit nothing themselves. In a direct conversation the
blocked person's new messages, and everything about them, stay private to their
sender for good; the blocker may not send; nobody starts a conversation with, or
adds to a group, someone in a block with them. Reactions and receipts carry their
actor and are held back from anyone in a block with the actor, either way, by the
blocks as they stand when the log is read: so the model books them with their
actor and filters them by the blocks in force at each check.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select

from backchannel.errors import BackchannelError
from backchannel.services import accounts, conversations, messages, safety, sync
from backchannel.services.core import Core, Requester
from backchannel.store import events as event_db
from backchannel.store.tables import events as events_table
from tests.conftest import PASSWORD

USERS = 4
EMOJI = ["👍", "🎉", "😮", "❤️"]
_counter = itertools.count()
# Repeats weight the draw towards what builds interesting histories.
OPERATIONS = [
    *["direct", "group", "group", "add", "add", "add", "remove", "leave", "rename"],
    *["send"] * 4,
    *["edit", "edit", "react", "react", "unreact", "read", "read", "hide", "unsend"],
    *["stranger", "too_early"],
    *["direct", "block", "block", "unblock", "unblock", "forward", "check"],
    *["across"] * 4,
]


@dataclass
class Message:
    pid: str
    position: int
    sender: int
    unsent: bool = False
    private: bool = False  # to its sender: sent into a direct conversation by the blocked


@dataclass
class Booked:
    """An event the log holds, and who gets it."""

    position: int
    type: str
    audience: set[int]
    actor: int | None  # reactions and receipts: not to anyone in a block with the actor
    held: bool  # held back from someone when it was emitted (for the statistics)


@dataclass
class Conv:
    pid: str
    kind: str
    members: dict[int, int] = field(default_factory=dict)  # user -> joined position
    admins: set[int] = field(default_factory=set)
    messages: list[Message] = field(default_factory=list)


@dataclass
class Model:
    users: list[Requester]
    convs: list[Conv] = field(default_factory=list)
    directs: dict[frozenset[int], Conv] = field(default_factory=dict)
    hidden: set[tuple[int, str]] = field(default_factory=set)
    reactions: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    read: dict[tuple[str, int], int] = field(default_factory=dict)
    blocks: set[tuple[int, int]] = field(default_factory=set)  # (blocker, blocked)
    booked: list[Booked] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    n: int = 0

    def handle(self, user: int) -> str:
        return self.users[user].handle

    def can_see(self, user: int, conv: Conv, message: Message) -> bool:
        return (
            user in conv.members
            and conv.members[user] <= message.position
            and (user, message.pid) not in self.hidden
            and (not message.private or message.sender == user)
        )

    def blocked(self, a: int, b: int) -> bool:
        """A block between the two, either way."""
        return (a, b) in self.blocks or (b, a) in self.blocks

    def blocked_by(self, blocker: int, blocked: int) -> bool:
        return (blocker, blocked) in self.blocks

    def gets(self, user: int, booked: Booked) -> bool:
        """Whether the user gets the event by the blocks standing now."""
        return user in booked.audience and (
            booked.actor is None or booked.actor == user or not self.blocked(user, booked.actor)
        )

    def expected(self, user: int) -> list[tuple[int, str]]:
        """(position, type) of every event the user should get now, in log order."""
        return [(b.position, b.type) for b in self.booked if self.gets(user, b)]

    def join(self, conv: Conv, users: list[int], position: int) -> None:
        for user in users:
            conv.members[user] = position
            self.read[(conv.pid, user)] = position

    def in_join_order(self, conv: Conv) -> list[int]:
        return sorted(conv.members, key=lambda u: (conv.members[u], u))


async def log_between(core: Core, after: int, upto: int) -> list[tuple[int, str]]:
    def read(t: Any) -> list[tuple[int, str]]:
        rows = t.conn.execute(
            select(events_table.c.position, events_table.c.type)
            .where(events_table.c.position > after, events_table.c.position <= upto)
            .order_by(events_table.c.position)
        ).all()
        return [(int(p), str(type_)) for p, type_ in rows]

    return list(await core.store.read("test_log", read))


async def position(core: Core) -> int:
    return int(await core.store.read("test_pos", lambda t: event_db.current_position(t.conn)))


async def new_users(core: Core) -> list[Requester]:
    run = f"{next(_counter)}{secrets.token_hex(3)}"
    result = []
    for i in range(USERS):
        _profile, token = await accounts.register(
            core, handle=f"p{run}_{i}", password=PASSWORD, display_name=None, device_name="t"
        )
        result.append(await accounts.authenticate(core, token))
    return result


class Runner:
    """Draws a valid (or deliberately invalid) operation, runs it, and books what it emits."""

    def __init__(self, core: Core, model: Model, data: st.DataObject) -> None:
        self.core = core
        self.m = model
        self.data = data
        self.across_only = False  # see `across`

    def draw(self, strategy: st.SearchStrategy[Any], label: str) -> Any:
        return self.data.draw(strategy, label=label)

    def pick(self, options: list[Any], label: str) -> Any:
        return self.draw(st.sampled_from(options), label) if options else None

    async def step(self) -> None:
        op = self.draw(st.sampled_from(OPERATIONS), "op")
        before = await position(self.core)
        outcome = await getattr(self, op)()
        if outcome is None:
            return  # nothing to do that way in this state
        expect_error, emitted = outcome
        note(f"{op}: {[e[0] for e in emitted] or expect_error or 'nothing'}")
        after = await position(self.core)
        log = await log_between(self.core, before, after)
        assert [t for _, t in log] == [e[0] for e in emitted], (op, log, emitted)
        for (pos, type_), (_, audience, *actor) in zip(log, emitted, strict=True):
            by = actor[0] if actor else None
            held = by is not None and any(self.m.blocked(u, by) for u in audience)
            self.m.booked.append(Booked(pos, type_, audience, by, held))
        assert expect_error is None or not log, op
        self.m.tokens.append(after)

    async def expect(self, code: str | None, call: Any) -> Any:
        if code is None:
            return await call
        with pytest.raises(BackchannelError) as raised:
            await call
        assert raised.value.code == code
        return None

    # --- operations: each returns (expected error code, [(event type, audience)]) ---------
    # (or (event type, audience, actor) for the events a block holds back from the actor)

    def pair(self) -> tuple[int, int]:
        a, b = self.draw(
            st.lists(st.integers(0, USERS - 1), min_size=2, max_size=2, unique=True), "pair"
        )
        return a, b

    async def direct(self) -> Any:
        a, b = self.pair()
        key = frozenset((a, b))
        if key not in self.m.directs and self.m.blocked(a, b):
            event("a block refuses a new direct conversation")
            await self.expect(
                "cannot_message",
                conversations.open_direct(self.core, self.m.users[a], [self.m.handle(b)]),
            )
            return "cannot_message", []
        view, created = await conversations.open_direct(
            self.core, self.m.users[a], [self.m.handle(b)]
        )
        assert created == (key not in self.m.directs)
        if not created:
            assert view["id"] == self.m.directs[key].pid
            if self.m.blocked(a, b):
                event("an existing direct conversation stays through a block")
            return None, []
        conv = Conv(view["id"], "direct")
        self.m.join(conv, [a, b], view["last_activity_position"])
        self.m.convs.append(conv)
        self.m.directs[key] = conv
        return None, [("conversation.created", {a, b})]

    async def group(self) -> Any:
        creator = self.draw(st.integers(0, USERS - 1), "creator")
        others = self.draw(
            st.sets(
                st.sampled_from([u for u in range(USERS) if u != creator]), min_size=1, max_size=2
            ),
            "others",
        )
        call = conversations.create_group(
            self.core, self.m.users[creator], [self.m.handle(u) for u in sorted(others)], "g"
        )
        if any(self.m.blocked(creator, u) for u in others):
            event("a block refuses a group invitation")
            await self.expect("cannot_add_member", call)
            return "cannot_add_member", []
        view = await call
        conv = Conv(view["id"], "group", admins={creator})
        self.m.join(conv, [creator, *others], view["last_activity_position"])
        self.m.convs.append(conv)
        return None, [("conversation.created", {creator, *others})]

    def live(self, kind: str | None = None) -> list[Conv]:
        return [c for c in self.m.convs if c.members and (kind is None or c.kind == kind)]

    def admission(self, conv: Conv, sender: int) -> tuple[str | None, bool]:
        """(error code, private) for a new message from the sender (messages.admit)."""
        if conv.kind != "direct":
            return None, False
        (other,) = set(conv.members) - {sender}
        if (sender, other) in self.m.blocks:
            return "blocked_by_you", False
        return None, (other, sender) in self.m.blocks

    def created(
        self, conv: Conv, view: dict[str, Any], sender: int, private: bool
    ) -> tuple[str, set[int]]:
        """Book a new message; returns its `message.created` and who gets it."""
        conv.messages.append(Message(view["id"], view["position"], sender, private=private))
        if conv.kind == "group" and any((u, sender) in self.m.blocks for u in conv.members):
            event("a blocked person's group message reaches the blocker")
        return ("message.created", {sender} if private else set(conv.members))

    def acting(self, conv: Conv, user: int) -> bool:
        """Whether the user may be drawn to act in the conversation: anyone, or during
        `across` only someone in a block with another member."""
        return not self.across_only or any(self.m.blocked(user, u) for u in conv.members)

    async def send(self) -> Any:
        conv = self.pick(
            [c for c in self.live() if any(self.acting(c, u) for u in c.members)], "conv"
        )
        if conv is None:
            return None
        sender = self.pick([u for u in sorted(conv.members) if self.acting(conv, u)], "sender")
        self.m.n += 1
        code, private = self.admission(conv, sender)
        call = messages.send_message(
            self.core, self.m.users[sender], conv.pid, txn_id=None, text=f"m{self.m.n}"
        )
        if code is not None:
            event("the blocker may not send")
            await self.expect(code, call)
            return code, []
        view, _ = await call
        if private:
            event("private message to a blocker")
        return None, [self.created(conv, view, sender, private)]

    async def forward(self) -> Any:
        choice = self.pick_visible(lambda msg, _user: not msg.unsent)
        if choice is None:
            return None
        conv, msg, user = choice
        mine = [c for c in self.live() if user in c.members and self.acting(c, user)]
        targets = self.draw(
            st.lists(st.sampled_from(mine), min_size=1, max_size=2, unique_by=lambda c: c.pid),
            "targets",
        )
        admitted = [self.admission(target, user) for target in targets]
        call = messages.forward_message(
            self.core, self.m.users[user], conv.pid, msg.pid, [t.pid for t in targets]
        )
        code = next((code for code, _ in admitted if code is not None), None)
        if code is not None:  # all or none
            event("the blocker may not forward")
            await self.expect(code, call)
            return code, []
        views = await call
        if any(private for _, private in admitted):
            event("forward private to a blocker")
        return None, [
            self.created(target, view, user, private)
            for target, view, (_, private) in zip(targets, views, admitted, strict=True)
        ]

    async def add(self) -> Any:
        conv = self.pick([c for c in self.live("group") if c.admins & c.members.keys()], "conv")
        if conv is None:
            return None
        outsiders = [u for u in range(USERS) if u not in conv.members]
        if not outsiders:
            return None
        admin = self.pick(sorted(conv.admins & conv.members.keys()), "admin")
        new = self.draw(st.sets(st.sampled_from(outsiders), min_size=1), "new")
        call = conversations.add_members(
            self.core, self.m.users[admin], conv.pid, [self.m.handle(u) for u in sorted(new)]
        )
        if any(self.m.blocked(admin, u) for u in new):
            event("a block refuses adding to a group")
            await self.expect("cannot_add_member", call)
            return "cannot_add_member", []
        view = await call
        audience = set(conv.members) | new
        self.m.join(conv, sorted(new), view["last_activity_position"])
        return None, [("member.joined", audience)]

    async def _leave(self, conv: Conv, by: int, target: int) -> Any:
        await conversations.remove_member(
            self.core, self.m.users[by], conv.pid, self.m.handle(target)
        )
        emitted: list[tuple[str, set[int]]] = [("member.left", set(conv.members))]
        del conv.members[target]
        conv.admins.discard(target)
        if conv.members and not conv.admins:
            conv.admins.add(self.m.in_join_order(conv)[0])
            emitted.append(("member.role_changed", set(conv.members)))
        return None, emitted

    async def remove(self) -> Any:
        conv = self.pick([c for c in self.live("group") if c.admins and len(c.members) > 1], "conv")
        if conv is None:
            return None
        admin = self.pick(sorted(conv.admins), "admin")
        target = self.pick(sorted(set(conv.members) - {admin}), "target")
        return await self._leave(conv, admin, target)

    async def leave(self) -> Any:
        conv = self.pick(self.live("group"), "conv")
        if conv is None:
            return None
        user = self.pick(sorted(conv.members), "user")
        return await self._leave(conv, user, user)

    def visible(self, user_filter: Any = None) -> list[tuple[Conv, Message, int]]:
        """(conversation, message, user) where the user can see the message."""
        return [
            (conv, msg, user)
            for conv in self.m.convs
            for msg in conv.messages
            for user in sorted(conv.members)
            if self.m.can_see(user, conv, msg)
            and self.acting(conv, user)
            and (user_filter is None or user_filter(msg, user))
        ]

    def pick_visible(self, user_filter: Any = None) -> tuple[Conv, Message, int] | None:
        """A conversation first, then a (message, user) in it: groups get their share."""
        options = self.visible(user_filter)
        pids = list(dict.fromkeys(conv.pid for conv, _, _ in options))
        pid = self.pick(pids, "conv")
        return self.pick([o for o in options if o[0].pid == pid], "msg") if pid else None

    def since_sent(self, conv: Conv, msg: Message) -> set[int]:
        """The members since before the message was sent."""
        audience = {u for u in conv.members if conv.members[u] <= msg.position}
        if audience != set(conv.members):
            event("a later member is left out")
        return audience

    def message_audience(self, conv: Conv, msg: Message) -> set[int]:
        """Who hears of changes to a message: its sender alone when it is private to
        them, else the members since before it was sent."""
        return {msg.sender} if msg.private else self.since_sent(conv, msg)

    async def edit(self) -> Any:
        choice = self.pick_visible(lambda msg, user: msg.sender == user and not msg.unsent)
        if choice is None:
            return None
        conv, msg, user = choice
        self.m.n += 1
        call = messages.edit_message(
            self.core, self.m.users[user], conv.pid, msg.pid, f"edit {self.m.n}"
        )
        audience = self.message_audience(conv, msg)
        other = next(iter(set(conv.members) - {user}), None) if conv.kind == "direct" else None
        if other is not None and self.m.blocked_by(user, other):
            # first, even for a message private to its sender (sent while blocked the
            # other way: a block both ways)
            event("the blocker may not edit")
            await self.expect("blocked_by_you", call)
            return "blocked_by_you", []
        if msg.private:
            event("an edit of a private message")
        elif other is not None and self.m.blocked(user, other):
            event("an edit of an older message stays with the blocked")
            audience = {user}
        await call
        return None, [("message.edited", audience)]

    async def react(self, on: bool = True) -> Any:
        choice = self.pick_visible(lambda msg, _user: not msg.unsent)
        if choice is None:
            return None
        conv, msg, user = choice
        emoji = self.draw(st.sampled_from(EMOJI), "emoji")
        mine = self.m.reactions.setdefault((msg.pid, user), set())
        if on and emoji not in mine and len(mine) >= 3:
            code: str | None = "too_many_reactions"
        else:
            code = None
        await self.expect(
            code,
            messages.set_reaction(self.core, self.m.users[user], conv.pid, msg.pid, emoji, on=on),
        )
        audience = self.message_audience(conv, msg)
        if code is None and on and emoji not in mine:
            mine.add(emoji)
            return None, [("reaction.added", audience, user)]
        if code is None and not on and emoji in mine:
            mine.discard(emoji)
            return None, [("reaction.removed", audience, user)]
        return code, []

    async def unreact(self) -> Any:
        return await self.react(on=False)

    async def read(self) -> Any:
        choice = self.pick_visible()
        if choice is None:
            return None
        conv, msg, user = choice
        result = await conversations.mark_read(self.core, self.m.users[user], conv.pid, msg.pid)
        current = self.m.read[(conv.pid, user)]
        if msg.private:
            # no marker onto a message only its sender sees: others would learn of it
            event("reading a private message changes nothing")
            assert result == current
            return None, []
        assert result == max(current, msg.position)
        if msg.position <= current:
            return None, []
        self.m.read[(conv.pid, user)] = msg.position
        # everyone shares receipts here (the default): the members since the message hear
        return None, [
            ("read.updated", {user}),
            ("receipt.updated", self.since_sent(conv, msg), user),
        ]

    async def hide(self) -> Any:
        choice = self.pick_visible()
        if choice is None:
            return None
        conv, msg, user = choice
        await messages.hide_message(self.core, self.m.users[user], conv.pid, msg.pid)
        self.m.hidden.add((user, msg.pid))
        return None, [("message.hidden", {user})]

    async def unsend(self) -> Any:
        choice = self.pick_visible(lambda msg, user: msg.sender == user)
        if choice is None:
            return None
        conv, msg, user = choice
        await messages.unsend_message(self.core, self.m.users[user], conv.pid, msg.pid)
        if msg.unsent:
            return None, []
        msg.unsent = True
        for (pid, _user), mine in self.m.reactions.items():
            if pid == msg.pid:
                mine.clear()
        return None, [("message.unsent", {user} if msg.private else set(conv.members))]

    async def rename(self) -> Any:
        conv = self.pick([c for c in self.live("group") if c.admins], "conv")
        if conv is None:
            return None
        admin = self.pick(sorted(conv.admins), "admin")
        self.m.n += 1
        await conversations.rename(self.core, self.m.users[admin], conv.pid, f"t{self.m.n}")
        return None, [("conversation.updated", set(conv.members))]

    async def stranger(self) -> Any:
        """Someone not (or no longer) in a conversation tries to write to it."""
        pairs = [(c, u) for c in self.m.convs for u in range(USERS) if u not in c.members]
        choice = self.pick(pairs, "outsider")
        if choice is None:
            return None
        conv, user = choice
        who = self.m.users[user]
        attempt = self.draw(st.sampled_from(["send", "react", "read", "rename"]), "attempt")
        target = conv.messages[-1].pid if conv.messages else "m_none"
        call = {
            "send": lambda: messages.send_message(self.core, who, conv.pid, txn_id=None, text="x"),
            "react": lambda: messages.set_reaction(self.core, who, conv.pid, target, "👍", on=True),
            "read": lambda: conversations.mark_read(self.core, who, conv.pid, target),
            "rename": lambda: conversations.rename(self.core, who, conv.pid, "mine"),
        }[attempt]
        await self.expect("conversation_not_found", call())
        return "conversation_not_found", []

    async def too_early(self) -> Any:
        """A member reaches for a message they cannot see (before joining, or hidden)."""
        choice = self.pick(
            [
                (conv, msg, user)
                for conv in self.m.convs
                for msg in conv.messages
                for user in sorted(conv.members)
                if not self.m.can_see(user, conv, msg)
            ],
            "unseen",
        )
        if choice is None:
            return None
        conv, msg, user = choice
        who = self.m.users[user]
        await self.expect(
            "message_not_found",
            messages.set_reaction(self.core, who, conv.pid, msg.pid, "🎉", on=True),
        )
        await self.expect(
            "message_not_found", conversations.mark_read(self.core, who, conv.pid, msg.pid)
        )
        await self.expect(
            "message_not_found", messages.hide_message(self.core, who, conv.pid, msg.pid)
        )
        if msg.private:
            event("others cannot find a private message")
        return "message_not_found", []

    async def block(self) -> Any:
        """Between two people who share a conversation, so the block bites (blocks
        between strangers show as refused conversations later)."""
        conv = self.pick([c for c in self.live() if len(c.members) > 1], "shared")
        if conv is None:
            return None
        blocker, blocked = self.draw(
            st.lists(st.sampled_from(sorted(conv.members)), min_size=2, max_size=2, unique=True),
            "pair",
        )
        await safety.block(self.core, self.m.users[blocker], self.m.handle(blocked))
        if (blocked, blocker) in self.m.blocks:
            event("a block both ways")
        self.m.blocks.add((blocker, blocked))
        return None, []

    async def unblock(self) -> Any:
        choice = self.pick(sorted(self.m.blocks), "block")
        if choice is None:
            return None
        blocker, blocked = choice
        await safety.unblock(self.core, self.m.users[blocker], self.m.handle(blocked))
        self.m.blocks.discard(choice)
        return None, []

    async def across(self) -> Any:
        """Someone in a block with another member of a conversation acts in it (after
        a block, when none stands between members): the draw leans towards what blocks
        change."""
        self.across_only = True
        try:
            if not any(self.acting(c, u) for c in self.live() for u in c.members):
                await self.block()  # emits nothing
            attempt = self.draw(
                st.sampled_from(
                    [*["send", "forward", "react"] * 2, "unreact", "read", "edit", "unsend"]
                ),
                "attempt",
            )
            return await getattr(self, attempt)()
        finally:
            self.across_only = False

    async def check(self) -> None:
        """Sync now, by the blocks standing now: what a block holds back is held back
        while it stands, not only once it is lifted. Emits and books nothing."""
        token = self.pick(self.m.tokens, "token")
        note(f"check from {token}, blocks {sorted(self.m.blocks)}")
        for user, who in enumerate(self.m.users):
            want = [e for e in self.m.expected(user) if e[0] > token]
            assert await sync_all(self.core, who, token, 500) == want, (user, token)


async def sync_all(core: Core, who: Requester, since: int, limit: int) -> list[tuple[int, str]]:
    """Everything after `since`, page by page, checking each page's contract."""
    seen: list[tuple[int, str]] = []
    for _ in range(10_000):
        batch = await sync.read_batch(core, who, since, limit)
        page = orjson.loads(orjson.dumps(batch.events))
        assert len(page) <= limit
        assert batch.limited == (len(page) == limit)
        assert batch.next_position >= since
        if page:
            assert page[0]["position"] > since
            assert page[-1]["position"] <= batch.next_position
        if batch.limited:
            assert batch.next_position == page[-1]["position"]
        seen.extend((e["position"], e["type"]) for e in page)
        since = batch.next_position
        if not batch.limited:
            return seen
    raise AssertionError("sync never finished")


async def fanout_all(core: Core, since: int, span: int) -> dict[int, list[tuple[int, str]]]:
    """What a node's fan-out hands out after `since`, per user id, reading `span`
    positions at a time."""
    seen: dict[int, list[tuple[int, str]]] = {}
    for _ in range(10_000):
        batch = await sync.read_for_fanout(core, since, span)
        assert since <= batch.next_position <= since + span
        for position, raw in batch.events:
            assert since < position <= batch.next_position
            kind = orjson.loads(raw)["type"]
            for user_id in batch.audience.get(position, []):
                seen.setdefault(user_id, []).append((position, kind))
        since = batch.next_position
        if not batch.limited:
            return seen
    raise AssertionError("fan-out never finished")


@settings(
    max_examples=25,
    deadline=None,
    # Shrinking replays whole histories against the database for minutes; the notes
    # (one line per operation) make an unshrunk failure readable enough.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_token_resumes_exactly_the_visible_events(
    core: Core, data: st.DataObject
) -> None:
    model = Model(await new_users(core))
    model.tokens.append(await position(core))
    runner = Runner(core, model, data)
    steps = data.draw(st.integers(15, 40), label="steps")
    for _ in range(steps):
        await runner.step()
    small = data.draw(st.sampled_from([1, 2, 3, 7]), label="page size")
    statistics(model)
    for user, who in enumerate(model.users):
        expected = model.expected(user)
        positions = [p for p, _ in expected]
        assert positions == sorted(set(positions))
        for i, token in enumerate(model.tokens):
            want = [e for e in expected if e[0] > token]
            assert await sync_all(core, who, token, 500) == want, (user, token)
            if i % 5 == 0:  # page through small batches from some of them
                assert await sync_all(core, who, token, small) == want, (user, token, small)
    # A node's fan-out reads the log once for every socket: it must give each user
    # exactly what their own sync gives them.
    fanned = await fanout_all(core, model.tokens[0], small)
    for user, who in enumerate(model.users):
        assert fanned.get(who.user_id, []) == model.expected(user), user


def statistics(model: Model) -> None:
    """Record which block cases the final check covers (--hypothesis-show-statistics)."""
    for booked in model.booked:
        hidden = any(not model.gets(u, booked) for u in booked.audience)
        if hidden:
            event(f"{booked.type} held back by a block")
        elif booked.held:
            event("held back by a block, delivered after it was lifted")
    for conv in model.convs:
        for msg in conv.messages:
            if msg.private and not model.blocked(*conv.members):  # a direct conversation
                event("a private message stays undelivered after an unblock")
