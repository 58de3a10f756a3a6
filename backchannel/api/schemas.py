"""Request and response schemas. Requests are strict (unknown fields refused);
responses document the shapes built in services/views.py (a test validates every
API response in the suite against these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backchannel.domain.messages import DISAPPEAR_MAX_SECONDS, DISAPPEAR_MIN_SECONDS


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# --- requests -----------------------------------------------------------------


class AccountIn(In):
    handle: str = Field(max_length=64, examples=["alice"])
    password: str = Field(max_length=1024, examples=["correct horse battery"])
    display_name: str | None = Field(None, max_length=200, examples=["Alice"])
    device_name: str = Field("unnamed device", max_length=200)
    birth_date: str | None = Field(
        None,
        max_length=10,
        description="YYYY-MM-DD, when known: below `dm_min_age` the account gets the "
        "protections of minors.",
    )


class SessionIn(In):
    handle: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    device_name: str = Field("unnamed device", max_length=200)


class MePatch(In):
    display_name: str | None = Field(None, max_length=200)
    bio: str | None = Field(None, max_length=1000)


class SettingsPatch(In):
    dm_inbox: Literal["everyone", "following", "nobody"] | None = Field(
        None, description="Who lands directly in your inbox; everyone else may only request."
    )
    dm_requests: Literal["everyone", "followers", "nobody"] | None = Field(
        None, description="Who may send you a message request."
    )
    birth_date: str | None = Field(
        None,
        max_length=10,
        description="YYYY-MM-DD. Below the deployment's minimum age only people you follow "
        "who follow you back can message you, and you receive no requests.",
    )
    read_receipts: bool | None = Field(
        None, description="Share read receipts (reciprocal: off, you see none either)."
    )
    activity_status: bool | None = Field(
        None,
        description="Show when you are active (reciprocal: off, you see nobody's either).",
    )


class PasswordChangeIn(In):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class DeactivateIn(In):
    password: str = Field(max_length=1024)


class ConversationIn(In):
    kind: Literal["direct", "group"]
    members: list[str] = Field(min_length=1, max_length=1000)
    title: str | None = Field(None, max_length=200)


class ConversationPatch(In):
    title: str | None = Field(max_length=200)


class MembersIn(In):
    members: list[str] = Field(min_length=1, max_length=1000)


class LocationIn(In):
    latitude: float
    longitude: float
    label: str | None = Field(None, max_length=200)


class PostIn(In):
    url: str = Field(max_length=4096, description="A post of the host platform.")
    title: str | None = Field(None, max_length=400)
    image_url: str | None = Field(None, max_length=4096)


class MessageIn(In):
    txn_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._~:-]+$",
        description="Client-chosen id making the send idempotent (per sender).",
    )
    text: str = Field("", max_length=70000, description="May be empty with media or a share.")
    reply_to: str | None = Field(None, max_length=64, description="Id of the quoted message.")
    media: list[str] = Field(
        default_factory=list, max_length=50, description="Upload ids (POST /api/v1/media)."
    )
    location: LocationIn | None = None
    profile: str | None = Field(None, max_length=64, description="A handle to share.")
    post: PostIn | None = None


class MessagePatch(In):
    text: str = Field(max_length=70000)


class ReactionIn(In):
    emoji: str = Field(max_length=64)


class ForwardIn(In):
    conversation_ids: list[str] = Field(min_length=1, max_length=50)


class ReadIn(In):
    up_to: str = Field(max_length=64, description="Id of the newest message read.")


# --- responses ----------------------------------------------------------------


class UserOut(BaseModel):
    id: str
    handle: str | None
    display_name: str
    deleted: bool


class ProfileOut(UserOut):
    bio: str
    created_at: str
    followers_count: int | None = None
    following_count: int | None = None
    followed_by_me: bool | None = None
    follows_me: bool | None = None
    role: Literal["user", "admin"] | None = Field(
        None, description="Yours only (`GET /api/v1/me`): `admin` for moderators."
    )


class SettingsOut(BaseModel):
    read_receipts: bool
    activity_status: bool
    dm_inbox: Literal["everyone", "following", "nobody"]
    dm_requests: Literal["everyone", "followers", "nobody"]
    birth_date: str | None


class HiddenWordsIn(In):
    words: list[str] = Field(max_length=200, description="Words and phrases; case-insensitive.")


class HiddenWordsOut(BaseModel):
    words: list[str]


class CanMessageOut(BaseModel):
    can_message: Literal["direct", "request", "none"] = Field(
        description="`direct`: lands in their inbox; `request`: in their Requests folder; "
        "`none`: you cannot message them."
    )
    conversation_id: str | None = Field(description="Your existing direct conversation.")
    remaining_messages: int | None = Field(
        description="For a request: messages you may still send until they accept."
    )


class BlockedUserOut(BaseModel):
    id: str
    handle: str | None
    display_name: str
    deleted: bool
    blocked_at: str


class BlockedPage(BaseModel):
    items: list[BlockedUserOut]
    next_cursor: str | None


class PresenceOut(BaseModel):
    user: str = Field(description="The handle, as asked (lower-cased).")
    active: bool = Field(description="Has a WebSocket open now.")
    last_active_at: str | None = Field(
        description="When last active (now while active); null when never, or not shown."
    )


class PresenceList(BaseModel):
    items: list[PresenceOut]


class AuthOut(BaseModel):
    token: str = Field(description="Bearer token for this device; shown once.")
    user: ProfileOut


class SessionOut(BaseModel):
    id: str
    device_name: str
    created_at: str
    last_used_at: str
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]


class UserHit(UserOut):
    followed_by_me: bool


class UserSearchOut(BaseModel):
    items: list[UserHit]


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class ReplyOut(BaseModel):
    id: str
    sender_handle: str | None
    text: str | None


class ReactionOut(BaseModel):
    emoji: str
    users: list[str]


class MediaOut(BaseModel):
    id: str
    kind: Literal["image", "gif", "video", "audio", "voice", "document"]
    mime: str
    size: int
    filename: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    waveform: list[int] | None
    blurhash: str | None
    has_thumbnail: bool
    view_once: bool
    erased: bool
    opened_by: list[str] | None = None


class MediaLinksOut(BaseModel):
    url: str
    thumbnail_url: str | None
    expires_in: int = Field(description="Seconds the links stay valid.")


class QuickReplyOut(BaseModel):
    id: str = Field(description="`1`, `2`… in order; `handoff` for the hand-off button.")
    label: str


class MessageOut(BaseModel):
    id: str
    conversation_id: str
    position: int = Field(description="Stream position: orders messages, and is a read marker.")
    sender: UserOut | dict[str, str | None]
    text: str | None = Field(description="Null once unsent.")
    reply_to: ReplyOut | None
    forwarded: bool
    reactions: list[ReactionOut]
    created_at: str
    edited_at: str | None
    unsent: bool
    kind: Literal["text", "location", "profile", "post"] = "text"
    share: dict[str, Any] | None = Field(
        None, description="location {latitude, longitude, label}, profile (a user), post."
    )
    media: list[MediaOut] = Field(default_factory=list)
    preview: dict[str, Any] | None = Field(None, description="The first link's preview.")
    quick_replies: list[QuickReplyOut] | None = Field(
        None,
        description="Buttons (a business bot's): tapping one sends its label as a message. "
        "Only on messages that have them.",
    )


class MessageList(BaseModel):
    items: list[MessageOut]


class MessagePage(BaseModel):
    items: list[MessageOut]
    before_cursor: str | None = Field(description="Fetches older messages; null at the start.")
    after_cursor: str | None = Field(description="Fetches newer messages; null at the end.")


class MemberOut(UserOut):
    role: Literal["admin", "member"]


class RequestOut(BaseModel):
    status: Literal["pending", "expired", "declined", "renewable", "accepted"]
    sent_at: str | None = Field(alias="sent_at")
    from_: str | None = Field(alias="from", description="Handle of who asked.")


class DisappearingOut(BaseModel):
    seconds: int = Field(description="How long a message lasts.")
    from_: Literal["sent", "seen"] = Field(
        alias="from", description="Counted from when it was sent, or from when everyone read it."
    )


class DisappearingIn(In):
    seconds: int | None = Field(
        ge=DISAPPEAR_MIN_SECONDS,
        le=DISAPPEAR_MAX_SECONDS,
        description="How long messages sent from now on last; null turns it off.",
    )
    from_: Literal["sent", "seen"] = Field("sent", alias="from")


class ScheduleMessageIn(In):
    text: str = Field(max_length=70000)
    send_at: datetime = Field(description="When: in the future, at most 90 days ahead.")
    reply_to: str | None = Field(None, max_length=64, description="A message to reply to.")


class ScheduledMessagePatch(In):
    text: str | None = Field(None, max_length=70000)
    send_at: datetime | None = None


class ScheduledMessageOut(BaseModel):
    id: str
    conversation_id: str
    text: str
    reply_to: str | None
    send_at: str | None
    status: Literal["pending", "sent", "cancelled", "failed"]
    reason: str | None = Field(
        description="`cancelled`, or why it was not sent: the send's error code "
        "(`conversation_not_found` after leaving, `cannot_message`, `blocked_by_you`…), "
        "`account_closed`, `account_suspended`."
    )
    message_id: str | None = Field(description="The message, once sent.")
    created_at: str | None
    updated_at: str | None


class ScheduledMessageList(BaseModel):
    items: list[ScheduledMessageOut]


class ConversationOut(BaseModel):
    id: str
    kind: Literal["direct", "group"]
    title: str | None
    created_at: str
    members: list[MemberOut]
    member_count: int
    role: Literal["admin", "member"]
    unread_count: int
    read_position: int
    last_activity_position: int
    last_message: MessageOut | None
    last_message_at: str | None
    disappearing: DisappearingOut | None = Field(
        None, description="The disappearing-messages timer; null when off."
    )
    folder: Literal["primary", "general", "requests", "hidden"] = Field(
        description="Your folder for it; `requests`/`hidden` while a request to you is pending."
    )
    request: RequestOut | None = Field(description="A message request to you, if any.")
    awaiting_acceptance: bool = Field(
        description="You sent a request the other person has not accepted."
    )
    remaining_messages: int | None = Field(
        description="While awaiting acceptance: messages you may still send."
    )
    archived: bool
    hidden: bool
    muted: bool
    muted_until: str | None = Field(description="Null while muted means until unmuted.")
    pinned: bool
    read_positions: dict[str, int] = Field(
        description="How far other members have read (handle -> position), where both you "
        "and they share read receipts."
    )


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class MembershipPatch(In):
    folder: Literal["primary", "general"] | None = None
    archived: bool | None = Field(None, description="Archived until the next activity.")
    hidden: bool | None = Field(None, description="Groups: hidden until the next activity.")
    pinned: bool | None = None
    muted: bool | None = None
    muted_until: datetime | None = Field(
        None, description="With `muted`: until this time (ISO 8601); absent: until unmuted."
    )


class ReportIn(In):
    reason: Literal[
        "spam",
        "scam",
        "harassment",
        "hate",
        "nudity",
        "violence",
        "self_harm",
        "impersonation",
        "underage",
        "other",
    ]
    comment: str = Field("", max_length=1000)


class DeclineIn(In):
    block: bool = Field(False, description="Also block the sender.")
    report: ReportIn | None = Field(None, description="Also report the sender.")


class ReadOut(BaseModel):
    read_position: int


class EventOut(BaseModel):
    position: int
    type: str
    at: str
    data: dict[str, object]


class SyncOut(BaseModel):
    events: list[EventOut]
    next: str = Field(description="Pass as `since` next time.")
    limited: bool = Field(description="True: more events are waiting; sync again at once.")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, object] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


class StatusOut(BaseModel):
    status: str


# --- reports and moderation ---------------------------------------------------------


class NewReportIn(In):
    kind: Literal["user", "message", "conversation"]
    reason: str = Field(
        max_length=32,
        description="spam, scam, harassment, hate, nudity, violence, self_harm, "
        "impersonation, underage or other.",
    )
    user: str | None = Field(None, max_length=64, description="The handle (kind `user`).")
    conversation_id: str | None = Field(
        None, max_length=64, description="Kinds `message` and `conversation`."
    )
    message_id: str | None = Field(None, max_length=64, description="Kind `message`.")
    comment: str = Field("", max_length=1000, description="What the moderators should know.")


class ReportCreatedOut(BaseModel):
    id: str
    status: Literal["open", "closed"]


class ReportActionIn(In):
    action: Literal["dismiss", "remove_message", "warn", "suspend", "unsuspend"]
    note: str = Field("", max_length=1000, description="For the audit log.")


class UserActionIn(In):
    action: Literal["warn", "suspend", "unsuspend"]
    note: str = Field("", max_length=1000, description="For the audit log; required to suspend.")
    reason: str | None = Field(
        None, max_length=32, description="A report reason, told to the person warned."
    )


class ReportedUserOut(UserOut):
    suspended: bool
    warnings: int
    reports_received: int


class ModeratedUserOut(ReportedUserOut):
    role: Literal["user", "admin"]
    suspended_at: str | None


class ReportOut(BaseModel):
    id: str
    source: Literal["report", "filter"]
    kind: Literal["user", "message", "conversation"]
    reason: str
    comment: str
    score: int | None = Field(description="The filter's score (flags only).")
    status: Literal["open", "closed"]
    resolution: str | None = Field(
        description="dismissed, message_removed, warned, suspended or unsuspended."
    )
    created_at: str
    resolved_at: str | None
    reporter: str | None = Field(description="The reporter's handle; null for a filter's flag.")
    target: ReportedUserOut | None = Field(description="Whom it is about, if one person.")
    conversation_id: str | None
    message_id: str | None
    preview: str = Field(description="A line of the evidence.")


class ReportPage(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None


class LogEntryOut(BaseModel):
    actor: str = Field(description="The moderator's handle, or `cli:<os user>`.")
    action: str
    target: UserOut | None
    report_id: str | None
    message_id: str | None
    note: str
    created_at: str


class LogPage(BaseModel):
    items: list[LogEntryOut]
    next_cursor: str | None


class ReportDetailOut(ReportOut):
    evidence: dict[str, object] = Field(description="What was reported, as it was then.")
    log: list[LogEntryOut] = Field(description="The moderation log entries about it.")


# --- the business inbox -------------------------------------------------------------------

BusinessRole = Literal["owner", "admin", "agent", "viewer"]


class BecomeBusinessIn(In):
    timezone: str = Field("UTC", max_length=64, description="An IANA time zone, e.g. Europe/Paris.")


class BusinessOut(BaseModel):
    business: UserOut
    timezone: str
    role: BusinessRole = Field(description="Your role on its team.")
    since: str | None


class MembershipOut(BaseModel):
    business: UserOut
    role: BusinessRole
    scope: Literal["all", "assigned", "team"]
    expires_at: str | None


class MembershipList(BaseModel):
    items: list[MembershipOut]


class TeamMemberIn(In):
    role: BusinessRole
    scope: Literal["all", "assigned", "team"] = Field(
        "all",
        description="Agents only: all conversations, or those assigned to them (or their team).",
    )
    expires_at: datetime | None = Field(None, description="Access ends by itself (agencies).")


class TeamMemberOut(BaseModel):
    user: UserOut
    role: BusinessRole
    scope: Literal["all", "assigned", "team"]
    expires_at: str | None
    expired: bool
    since: str | None


class TeamMemberList(BaseModel):
    items: list[TeamMemberOut]


class LabelIn(In):
    name: str = Field(max_length=200)
    color: str = Field("#64748b", max_length=7, description="#rrggbb")


class LabelPatch(In):
    name: str | None = Field(None, max_length=200)
    color: str | None = Field(None, max_length=7)


class LabelOut(BaseModel):
    id: str
    name: str
    color: str


class LabelList(BaseModel):
    items: list[LabelOut]


class TeamRefOut(BaseModel):
    id: str
    name: str


class WorkStateOut(BaseModel):
    conversation_id: str
    customer: UserOut | None
    status: Literal["open", "pending", "snoozed", "resolved"]
    snoozed_until: str | None
    priority: Literal["none", "low", "medium", "high", "urgent"]
    assignee: UserOut | None
    team: TeamRefOut | None = Field(description="The team it is assigned to, if any.")
    labels: list[LabelOut]
    waiting_since: str | None = Field(description="Since when the customer waits for an answer.")
    last_message_at: str | None
    created_at: str | None


class WorkStatePatch(In):
    status: Literal["open", "pending", "snoozed", "resolved"] | None = None
    snoozed_until: datetime | None = None
    priority: Literal["none", "low", "medium", "high", "urgent"] | None = None
    assignee: str | None = Field(None, max_length=40, description="A handle; null unassigns.")
    team: str | None = Field(None, max_length=64, description="A team id; null: no team.")


class NoteIn(In):
    text: str = Field(max_length=20000)


class ViewFilters(In):
    """A saved view's filters: those of the inbox listing."""

    status: Literal["open", "pending", "snoozed", "resolved"] | None = None
    assignee: str | None = Field(None, max_length=40, description="A handle, `me` or `none`.")
    label: str | None = Field(None, max_length=64, description="A label id.")
    priority: Literal["none", "low", "medium", "high", "urgent"] | None = None
    waiting_minutes: int | None = Field(None, ge=0, le=525600, description="Waiting at least.")
    unread: bool | None = None


class ViewIn(In):
    name: str = Field(max_length=200)
    filters: ViewFilters
    shared: bool = Field(False, description="For the whole team (owners, admins).")


class ViewPatch(In):
    name: str | None = Field(None, max_length=200)
    filters: ViewFilters | None = Field(None, description="Replaces the view's filters.")


class ViewOut(BaseModel):
    id: str
    name: str
    shared: bool
    filters: dict[str, Any]
    updated_at: str | None


class ViewList(BaseModel):
    items: list[ViewOut]


class TeamPresenceIn(In):
    state: Literal["viewing", "typing", "left"]


class TeamPresenceOut(BaseModel):
    told: int = Field(description="How many teammates who may see the conversation were told.")


class NoteOut(BaseModel):
    id: str
    author: UserOut
    text: str
    mentions: list[str] = Field(description="Ids of the teammates @mentioned (and told).")
    created_at: str | None


class TeamMessageOut(MessageOut):
    agent: UserOut | None = Field(None, description="The teammate who wrote it as the business.")
    automation: Literal["welcome", "away", "bot", "rule", "csat", "broadcast"] | None = Field(
        None, description="Sent by the business's automation, not a teammate."
    )


class TeamConversationSummary(ConversationOut):
    """A conversation as the team sees it: its last message says which teammate wrote it."""

    last_message: TeamMessageOut | None = None


class TeamInboxItem(BaseModel):
    conversation: TeamConversationSummary
    state: WorkStateOut


class TeamInboxPage(BaseModel):
    items: list[TeamInboxItem]
    next_cursor: str | None


class TeamConversationOut(BaseModel):
    conversation: TeamConversationSummary
    state: WorkStateOut
    notes: list[NoteOut]


class TeamMessagePage(BaseModel):
    items: list[TeamMessageOut]
    before_cursor: str | None
    after_cursor: str | None


class AuditOut(BaseModel):
    actor: UserOut
    action: str
    conversation_id: str | None
    detail: dict[str, Any]
    at: str | None


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None


class TeamIn(In):
    name: str = Field(max_length=200)


class TeamOut(BaseModel):
    id: str
    name: str
    members: list[UserOut]


class TeamList(BaseModel):
    items: list[TeamOut]


class SavedReplyIn(In):
    shortcut: str = Field(max_length=40, description="Typed as /shortcut in the composer.")
    title: str = Field(max_length=200)
    text: str = Field(max_length=8000, description="With variables: {{customer.first_name|there}}.")


class SavedReplyPatch(In):
    shortcut: str | None = Field(None, max_length=40)
    title: str | None = Field(None, max_length=200)
    text: str | None = Field(None, max_length=8000)


class SavedReplyOut(BaseModel):
    id: str
    shortcut: str
    title: str
    text: str
    variables: list[str]
    updated_at: str | None


class SavedReplyList(BaseModel):
    items: list[SavedReplyOut]


class RenderIn(In):
    conversation_id: str = Field(max_length=64)


class RenderOut(BaseModel):
    text: str


class ContactPatch(In):
    name: str | None = Field(None, max_length=200)
    notes: str | None = Field(None, max_length=20000)
    attributes: dict[str, str | None] | None = Field(
        None, description="Merged into the contact's; a null value removes that key."
    )


class ContactOut(BaseModel):
    customer: UserOut
    name: str | None = Field(description="The business's own name for the customer.")
    notes: str | None
    attributes: dict[str, str]
    conversations: list[WorkStateOut]


class HoursIn(In):
    week: dict[str, list[list[str]]] = Field(
        default_factory=dict, description='Per day ("mon"…"sun"): [["09:00", "17:00"], …].'
    )
    holidays: list[str] = Field(default_factory=list, max_length=366, description="YYYY-MM-DD")


class BusinessSettingsPatch(In):
    timezone: str | None = Field(None, max_length=64)
    hours: HoursIn | None = Field(None, description="Null: always open.")
    welcome_message: str | None = Field(None, max_length=2000)
    away_message: str | None = Field(None, max_length=2000)


class BusinessSettingsOut(BaseModel):
    timezone: str
    hours: dict[str, Any] | None
    welcome_message: str | None = Field(description="Sent on a customer's first message.")
    away_message: str | None = Field(description="Sent outside business hours, once a closure.")
    open_now: bool
    next_open: str | None


# --- automation: rules and assignment (issue 7) ------------------------------------------


class RuleIn(In):
    """A rule; its parts are checked by the server, each mistake named (`invalid_rule`)."""

    name: str = Field("", max_length=200)
    enabled: bool = True
    stop: bool = Field(False, description="When it matched, run no later rule this time.")
    trigger: dict[str, Any] = Field(
        default_factory=dict,
        description="{type: message_received | conversation_created | status_changed "
        "(to?) | idle (minutes, waiting_for: customer)}",
    )
    conditions: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=100,
        description="All must hold: keywords, regex, label, attribute, business_hours, "
        "first_message.",
    )
    actions: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=100,
        description="reply, label, assign, priority, resolve, snooze, webhook — in order.",
    )


class RulePatch(In):
    name: str | None = Field(None, max_length=200)
    enabled: bool | None = None
    stop: bool | None = None
    trigger: dict[str, Any] | None = None
    conditions: list[dict[str, Any]] | None = Field(None, max_length=100)
    actions: list[dict[str, Any]] | None = Field(None, max_length=100)
    position: int | None = Field(None, ge=0, le=1_000_000, description="Running order.")


class RuleOut(BaseModel):
    id: str
    name: str
    enabled: bool
    stop: bool
    position: int
    trigger: dict[str, Any]
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    created_at: str | None
    updated_at: str | None


class RuleList(BaseModel):
    items: list[RuleOut]


class DryRunIn(In):
    text: str = Field(max_length=10_000, description="A customer's message to try.")
    conversation_id: str | None = Field(
        None, max_length=64, description="Take labels and attributes from this conversation."
    )
    first_message: bool | None = Field(None, description="Override: is it their first?")


class DraftDryRunIn(DryRunIn):
    rule: dict[str, Any] = Field(description="An unsaved rule, as for creating one.")


class ConditionResultOut(BaseModel):
    index: int
    type: str
    matched: bool
    reason: str


class DryRunOut(BaseModel):
    matched: bool
    conditions: list[ConditionResultOut]
    actions: list[dict[str, Any]] = Field(description="What would run (none if no match).")


class RuleRunOut(BaseModel):
    conversation_id: str
    trigger: str
    actions: list[dict[str, Any]] = Field(description="[{type, done, detail}] in order.")
    at: str | None


class RuleRunList(BaseModel):
    items: list[RuleRunOut]
    next_cursor: str | None


class AssignmentPatch(In):
    mode: Literal["manual", "round_robin"] | None = None
    capacity: int | None = Field(None, ge=1, le=1000, description="Open or pending, each.")
    roles: list[Literal["owner", "admin", "agent"]] | None = Field(None, max_length=3)


class AssignmentAgentOut(BaseModel):
    user: UserOut
    role: BusinessRole
    available: bool
    open_conversations: int
    last_assigned_at: str | None
    eligible: bool = Field(description="Round-robin would consider them now.")


class AssignmentOut(BaseModel):
    mode: Literal["manual", "round_robin"]
    capacity: int
    roles: list[str]
    agents: list[AssignmentAgentOut]


class AvailabilityIn(In):
    available: bool


# --- business reports (issue 7) -----------------------------------------------------------


class BusinessReportSettingsPatch(In):
    csat_enabled: bool | None = Field(None, description="Send the CSAT survey on resolving.")
    csat_question: str | None = Field(None, max_length=2000, description="Null: the default.")
    csat_thanks: str | None = Field(None, max_length=2000, description="Null: the default.")


class BusinessReportSettingsOut(BaseModel):
    csat_enabled: bool
    csat_question: str
    csat_thanks: str


class BusinessDurationStatsOut(BaseModel):
    count: int
    median_s: float | None
    p90_s: float | None
    mean_s: float | None


class BusinessCsatStatsOut(BaseModel):
    count: int
    mean: float | None
    distribution: dict[str, int] = Field(description='Ratings "1" to "5" and how many of each.')
    satisfied_rate: float | None = Field(description="The share of 4s and 5s.")


class BusinessReportGroupOut(BaseModel):
    kind: Literal["business", "agent", "team", "label"]
    id: str | None
    name: str | None


class BusinessReportMetricsOut(BaseModel):
    conversations: int = Field(description="Cycles opened (new and reopened conversations).")
    resolved: int
    resolution_rate: float | None
    first_response: BusinessDurationStatsOut
    next_response: BusinessDurationStatsOut
    resolution: BusinessDurationStatsOut
    messages_per_resolution: float | None
    bot_conversations: int
    bot_resolution_rate: float | None
    handoff_rate: float | None
    csat: BusinessCsatStatsOut


class BusinessReportRowOut(BusinessReportMetricsOut):
    group: BusinessReportGroupOut | None = Field(
        description="Null: unassigned, no team or no label."
    )


class BusinessReportOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    timezone: str
    business_hours: bool
    group_by: Literal["business", "agent", "team", "label"]
    total: BusinessReportMetricsOut
    groups: list[BusinessReportRowOut]


class BusinessReportPointOut(BusinessReportMetricsOut):
    start: str = Field(description="The day (or the week's Monday), in the business's zone.")


class BusinessReportSeriesOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    timezone: str
    business_hours: bool
    interval: Literal["day", "week"]
    points: list[BusinessReportPointOut]


class BusinessReportVolumeOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    timezone: str
    days: list[str]
    counts: list[list[int]] = Field(description="Cycles opened per [day][hour], Monday first.")


# --- the FAQ bot and approvals (issue 7) -------------------------------------------------


class BotSettingsOut(BaseModel):
    enabled: bool
    greeting: str | None = Field(description="Said before the bot's first words in a chat.")
    unsure_text: str = Field(description="Said when no entry matches well enough (then hand-off).")
    handoff_text: str = Field(description="Said when the customer asks for a person.")
    handoff_label: str = Field(description="The hand-off button's label.")
    threshold: int = Field(description="How well (percent) a question must match to answer.")
    updated_at: str | None


class BotSettingsPatch(In):
    enabled: bool | None = None
    greeting: str | None = Field(None, max_length=1000, description="Null or empty: none.")
    unsure_text: str | None = Field(None, max_length=1000)
    handoff_text: str | None = Field(None, max_length=1000)
    handoff_label: str | None = Field(None, max_length=40)
    threshold: int | None = Field(None, ge=1, le=100)


class BotEntryIn(In):
    question: str = Field(max_length=300)
    alternatives: list[str] = Field(default_factory=list, max_length=20)
    keywords: list[str] = Field(default_factory=list, max_length=20)
    answer: str = Field(max_length=4096, description="Text with saved replies' variables.")
    quick_replies: list[str] = Field(default_factory=list, max_length=10)


class BotEntryPatch(In):
    question: str | None = Field(None, max_length=300)
    alternatives: list[str] | None = Field(None, max_length=20)
    keywords: list[str] | None = Field(None, max_length=20)
    answer: str | None = Field(None, max_length=4096)
    quick_replies: list[str] | None = Field(None, max_length=10)


class BotEntryOut(BaseModel):
    id: str
    question: str
    alternatives: list[str]
    keywords: list[str]
    answer: str
    quick_replies: list[str]
    created_at: str
    updated_at: str


class BotEntryList(BaseModel):
    items: list[BotEntryOut]


class BotTryIn(In):
    text: str = Field(max_length=4096)


class BotTryOut(BaseModel):
    action: Literal["answer", "handoff", "unsure"]
    score: float = Field(description="The best entry's match, 0 to 1.")
    entry: BotEntryOut | None
    text: str = Field(description="What the bot would say.")
    quick_replies: list[QuickReplyOut]


class ApprovalOut(BaseModel):
    id: str
    conversation_id: str
    author: UserOut | None
    text: str = Field(description="As held; once approved, as sent (edited, perhaps).")
    reply_to: str | None
    state: Literal["pending", "approved", "rejected"]
    comment: str | None = Field(description="Why it was rejected, for the author.")
    decided_by: UserOut | None
    decided_at: str | None
    message_id: str | None = Field(description="The message sent, once approved.")
    created_at: str


class ApprovalPage(BaseModel):
    items: list[ApprovalOut]
    next_cursor: str | None


class ApproveIn(In):
    text: str | None = Field(None, max_length=70000, description="Send this instead (edit).")


class RejectIn(In):
    comment: str = Field(max_length=1000)


class RestrictedOut(BaseModel):
    user: UserOut
    approval_required: bool


class RestrictedList(BaseModel):
    items: list[RestrictedOut]


# --- webhooks and API tokens (issue 7) ------------------------------------------------------

WebhookEvent = Literal[
    "conversation.created",
    "message.received",
    "message.sent",
    "conversation.status_changed",
    "conversation.assigned",
    "csat.received",
    "rule.webhook",
]


class WebhookIn(In):
    url: str = Field(max_length=2000, description="https (http only where the server allows).")
    events: list[str] = Field(max_length=20, description="Event types to deliver (at least one).")
    description: str | None = Field(None, max_length=200)
    enabled: bool = True


class WebhookPatch(In):
    url: str | None = Field(None, max_length=2000)
    events: list[str] | None = Field(None, max_length=20)
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = Field(None, description="true again: the failure count restarts.")


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[WebhookEvent]
    description: str | None
    enabled: bool
    failures: int = Field(description="Failed delivery attempts in a row.")
    disabled_reason: str | None = Field(description="Why the server turned it off, if it did.")
    created_at: str


class WebhookSecretOut(WebhookOut):
    secret: str = Field(description="The signing secret: shown here only.")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class WebhookAttemptOut(BaseModel):
    attempt: int
    status_code: int | None
    latency_ms: int | None
    error: str | None
    at: str


class WebhookDeliveryOut(BaseModel):
    id: str = Field(description="The Webhook-Id header: the same on every attempt.")
    type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: list[WebhookAttemptOut]
    status_code: int | None
    latency_ms: int | None
    error: str | None
    next_attempt_at: str | None
    created_at: str
    payload: dict[str, Any] = Field(description="The body sent: {id, type, created_at, …}.")


class WebhookDeliveryList(BaseModel):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None


class ApiTokenIn(In):
    name: str = Field(max_length=200)
    role: Literal["admin", "agent", "viewer"] = "agent"


class ApiTokenOut(BaseModel):
    id: str
    name: str
    role: Literal["admin", "agent", "viewer"]
    created_at: str
    last_used_at: str | None


class ApiTokenCreatedOut(ApiTokenOut):
    token: str = Field(description="The bearer token: shown here only.")


class ApiTokenList(BaseModel):
    items: list[ApiTokenOut]


# --- outbound: scheduled messages and broadcasts (services/outbound.py) -------------------


class ScheduledIn(In):
    conversation_id: str = Field(max_length=64)
    text: str = Field(max_length=70000, description="With the saved replies' variables.")
    send_at: datetime = Field(description="When to send it: in the future, within a year.")
    cancel_if_customer_replies: bool = Field(
        False, description="Cancel it if the customer writes before then."
    )


class ScheduledPatch(In):
    text: str | None = Field(None, max_length=70000)
    send_at: datetime | None = None
    cancel_if_customer_replies: bool | None = None


class ScheduledOut(BaseModel):
    id: str
    conversation_id: str
    text: str
    send_at: str | None
    cancel_if_customer_replies: bool
    status: Literal["pending", "sent", "cancelled", "failed"]
    reason: str | None = Field(
        description="Why it was cancelled (`cancelled`, `customer_replied`) or failed "
        "(`author_removed`, `author_forbidden`, `out_of_scope`, or the send's error code)."
    )
    author: UserOut | None
    cancelled_by: UserOut | None
    message_id: str | None = Field(description="The message, once sent.")
    created_at: str | None
    updated_at: str | None


class ScheduledPage(BaseModel):
    items: list[ScheduledOut]
    next_cursor: str | None


class KeywordsIn(In):
    opt_in: list[str] = Field(min_length=1, max_length=10)
    opt_out: list[str] = Field(min_length=1, max_length=10)


class KeywordsOut(BaseModel):
    opt_in: list[str] = Field(description="Whole messages that opt a contact in.")
    opt_out: list[str] = Field(description="Whole messages that opt a contact out, at once.")


class SubscriberOut(BaseModel):
    customer: UserOut
    conversation_id: str = Field(description="Where broadcasts reach them.")
    status: Literal["opted_in", "opted_out"]
    opted_in_at: str | None
    opted_out_at: str | None


class SubscriberPage(BaseModel):
    items: list[SubscriberOut]
    next_cursor: str | None


class AudienceIn(In):
    label: str | None = Field(None, max_length=64, description="Only conversations with it.")


class BroadcastIn(In):
    text: str = Field(max_length=70000, description="With the saved replies' variables.")
    audience: AudienceIn | None = Field(None, description="Everyone opted in, when absent.")
    send_at: datetime | None = Field(None, description="Later, or now when absent.")


class AudienceOut(BaseModel):
    label: LabelOut | None = Field(description="The label it was for, as it was then.")


class BroadcastCounts(BaseModel):
    total: int
    queued: int
    sent: int
    skipped: int
    failed: int
    cancelled: int


class BroadcastOut(BaseModel):
    id: str
    text: str
    audience: AudienceOut
    status: Literal["scheduled", "sending", "done", "cancelled"]
    send_at: str | None
    author: UserOut | None
    cancelled_by: UserOut | None
    counts: BroadcastCounts
    created_at: str | None
    finished_at: str | None


class BroadcastPage(BaseModel):
    items: list[BroadcastOut]
    next_cursor: str | None


class RecipientOut(BaseModel):
    customer: UserOut
    conversation_id: str
    status: Literal["queued", "sent", "skipped", "failed", "cancelled"]
    reason: str | None = Field(
        description="Skipped: `opted_out`, `blocked`, `cannot_message`; failed: an error code."
    )
    message_id: str | None
    updated_at: str | None


class RecipientPage(BaseModel):
    items: list[RecipientOut]
    next_cursor: str | None


class AccountDeletionTerms(BaseModel):
    """What "Delete my account" does on this server (the operator's settings)."""

    messages: Literal["erase", "keep"] = Field(
        description="`erase`: each of your messages becomes a tombstone for everyone; `keep`: "
        "they stay, shown as from a deleted user."
    )
    handle_hold_days: int = Field(description="How long nobody may register your handle.")


class AccountDeletedOut(BaseModel):
    """What "Delete my account" does to your messages (the operator's setting), and when
    your handle may be registered again."""

    messages: Literal["erase", "keep"]
    handle_free_at: str
