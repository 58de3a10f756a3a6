"""Request and response schemas. Requests are strict (unknown fields refused);
responses document the shapes built in services/views.py (a test validates every
API response in the suite against these)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# --- requests -----------------------------------------------------------------


class AccountIn(In):
    handle: str = Field(max_length=64, examples=["alice"])
    password: str = Field(max_length=1024, examples=["correct horse battery"])
    display_name: str | None = Field(None, max_length=200, examples=["Alice"])
    device_name: str = Field("unnamed device", max_length=200)


class SessionIn(In):
    handle: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    device_name: str = Field("unnamed device", max_length=200)


class MePatch(In):
    display_name: str | None = Field(None, max_length=200)
    bio: str | None = Field(None, max_length=1000)


class SettingsPatch(In):
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


class MessageIn(In):
    txn_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._~:-]+$",
        description="Client-chosen id making the send idempotent (per sender).",
    )
    text: str = Field(max_length=70000)
    reply_to: str | None = Field(None, max_length=64, description="Id of the quoted message.")


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


class SettingsOut(BaseModel):
    read_receipts: bool
    activity_status: bool


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


class MessageList(BaseModel):
    items: list[MessageOut]


class MessagePage(BaseModel):
    items: list[MessageOut]
    before_cursor: str | None = Field(description="Fetches older messages; null at the start.")
    after_cursor: str | None = Field(description="Fetches newer messages; null at the end.")


class MemberOut(UserOut):
    role: Literal["admin", "member"]


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
    read_positions: dict[str, int] = Field(
        description="How far other members have read (handle -> position), where both you "
        "and they share read receipts."
    )


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


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
