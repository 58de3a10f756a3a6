"""The shapes of search results (routes/search.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backchannel.api.schemas import ConversationOut, MessageOut


class SnippetSegment(BaseModel):
    text: str = Field(description="Plain text: escape it before showing it as HTML.")
    match: bool = Field(description="Whether the search matched this piece.")


class FoundConversation(BaseModel):
    id: str
    kind: Literal["direct", "group"]
    title: str | None


class MessageHit(BaseModel):
    message: MessageOut
    conversation: FoundConversation
    snippet: list[SnippetSegment] = Field(
        description="The body, or a window of it around the first match (`…` marks a cut), "
        "in pieces; concatenated they are the shown text."
    )


class MessageHitPage(BaseModel):
    items: list[MessageHit]
    next_cursor: str | None


class ConversationHits(BaseModel):
    items: list[ConversationOut]
