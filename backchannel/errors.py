"""The one error type clients see, and the stable codes they switch on.

Every 4xx/5xx body is `{"error": {"code": "...", "message": "..."}}`. Codes are
API: once shipped, a code keeps its meaning. docs/api.md lists every code in
`CODES` (a test checks that).
"""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, when it is returned)
CODES: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "The request body, query or path did not match the schema."),
    "invalid_token": (400, "A sync token or pagination cursor is malformed or unknown."),
    "invalid_query": (
        400,
        "A search query is empty, too long, has an open quote or a misplaced `*`.",
    ),
    "unauthenticated": (401, "No bearer token, or the token is unknown or revoked."),
    "invalid_credentials": (401, "Handle or password is wrong."),
    "forbidden": (403, "You may see this object but not do that to it."),
    "wrong_password": (
        403,
        "The password confirming this action is wrong (you stay logged in).",
    ),
    "not_group_admin": (403, "Only group admins may do that."),
    "not_message_sender": (403, "Only the sender of a message may do that."),
    "cannot_message": (
        403,
        "That person does not accept messages from you (their settings, age protection, "
        "or a block: the three look the same).",
    ),
    "cannot_add_member": (403, "That person does not accept group invitations from you."),
    "blocked_by_you": (403, "You blocked the other member; unblock them to send."),
    "request_limit_reached": (
        403,
        "You sent as many messages as a request allows; wait until they accept it.",
    ),
    "not_moderator": (403, "Only moderators (accounts with the admin role) may do that."),
    "business_forbidden": (403, "Your role on this business's team may not do that."),
    "token_scope": (403, "A business API token works only on its own business's routes."),
    "account_suspended": (403, "The account is suspended by a moderator; it cannot log in."),
    "not_found": (404, "No such route."),
    "user_not_found": (404, "No active user has that handle or id."),
    "conversation_not_found": (
        404,
        "No such conversation, or you are not a member (the two are indistinguishable).",
    ),
    "message_not_found": (404, "No such message in a conversation you can read."),
    "session_not_found": (404, "No such session among your devices."),
    "media_not_found": (
        404,
        "No such media, not yours to attach, or not in a conversation you can read.",
    ),
    "report_not_found": (404, "No such report."),
    "export_not_found": (404, "No such data export of yours (or the signed link expired)."),
    "business_not_found": (
        404,
        "No such business, or you are not on its team (now): the two look the same.",
    ),
    "member_not_found": (404, "That person is not on the business's team."),
    "label_not_found": (404, "No such label in this business."),
    "team_not_found": (404, "No such team in this business."),
    "saved_reply_not_found": (404, "No such saved reply in this business."),
    "view_not_found": (404, "No such saved view (or it is a teammate's own)."),
    "rule_not_found": (404, "No such automation rule in this business."),
    "bot_entry_not_found": (404, "No such entry in this business's bot knowledge."),
    "approval_not_found": (404, "No such held reply in this business."),
    "scheduled_not_found": (404, "No such scheduled message in this business that you see."),
    "scheduled_message_not_found": (404, "No such scheduled message of yours."),
    "broadcast_not_found": (404, "No such broadcast in this business."),
    "webhook_not_found": (404, "No such webhook in this business."),
    "delivery_not_found": (404, "No such delivery of this webhook."),
    "api_token_not_found": (404, "No such API token in this business."),
    "method_not_allowed": (405, "The route exists but not with that method."),
    "media_gone": (410, "The media was erased (unsent, expired, or view-once and opened)."),
    "handle_taken": (409, "Another account already uses that handle (case-insensitive)."),
    "edit_window_closed": (409, "The message is too old to edit."),
    "message_unsent": (409, "The message was unsent; it can no longer be changed or forwarded."),
    "not_a_request": (409, "The conversation is not a pending message request to you."),
    "not_accepted": (409, "Accept the message request first."),
    "report_closed": (409, "The report is already closed."),
    "export_in_progress": (409, "An export of your data is being made already; wait for it."),
    "export_not_ready": (409, "The export is not ready yet (or it failed)."),
    "export_expired": (410, "The export expired and was deleted; ask for a new one."),
    "already_business": (409, "The account is a business already."),
    "business_has_team": (
        409,
        "A business account with a team cannot be deleted: remove its team members first.",
    ),
    "label_exists": (409, "The business has a label of that name already (case-insensitive)."),
    "shortcut_taken": (409, "The business has a saved reply with that shortcut already."),
    "team_exists": (409, "The business has a team of that name already."),
    "last_owner": (409, "A business keeps at least one owner; make another owner first."),
    "approval_decided": (409, "The held reply was approved or rejected already."),
    "scheduled_not_pending": (409, "The scheduled message is sent, cancelled or failed: final."),
    "broadcast_finished": (409, "The broadcast is done or cancelled already."),
    "too_many_webhooks": (409, "The business has as many webhooks as allowed (20)."),
    "request_too_large": (413, "The request body is larger than allowed."),
    "media_too_large": (413, "The upload is larger than its kind of media allows."),
    "range_not_satisfiable": (416, "The requested byte range lies outside the media."),
    "media_unsupported": (415, "Not a kind of file accepted (executables, HTML, SVG, ...)."),
    "invalid_handle": (422, "Handles are 3-30 characters of a-z, 0-9, `_` and `.`."),
    "weak_password": (422, "The password is too short, too common or equals the handle."),
    "invalid_members": (422, "The member list is empty, names yourself, or repeats someone."),
    "group_too_large": (422, "The group would exceed the configured maximum size."),
    "invalid_text": (422, "Message text is empty, too long or contains forbidden characters."),
    "invalid_reaction": (422, "The reaction is not a single emoji."),
    "media_type_mismatch": (422, "The declared type or kind is not what the bytes are."),
    "too_many_reactions": (422, "You already put the maximum number of emoji on this message."),
    "too_many_targets": (422, "A forward names more conversations than allowed."),
    "cannot_follow_self": (422, "You cannot follow yourself."),
    "invalid_template": (422, "A saved reply names an unknown variable, or leaves `{{` open."),
    "no_recipients": (422, "No opted-in contact matches the broadcast's audience."),
    "invalid_attributes": (422, "Contact attributes are at most 50 short strings, keyed a-z0-9_."),
    "invalid_assignee": (422, "The assignee is not an agent, admin or owner on the team now."),
    "invalid_rule": (422, "An automation rule is malformed; `details.errors` lists each mistake."),
    "invalid_range": (
        422,
        "A report's range is not a date or instant, ends before it starts, or spans too long.",
    ),
    "invalid_webhook_url": (
        422,
        "A webhook URL must be https (http only where allowed) and reach a public address.",
    ),
    "media_bomb": (422, "An image has too many pixels or frames (a decompression bomb)."),
    "too_many_attachments": (422, "A message carries at most 10 attachments."),
    "request_text_only": (422, "Until a request is accepted it may carry text only."),
    "media_corrupt": (422, "The upload cannot be decoded as the type its bytes claim."),
    "message_rejected": (
        422,
        "The spam and phishing checks refused the message; the message says why.",
    ),
    "cannot_report_self": (422, "You cannot report yourself or your own messages."),
    "invalid_report": (422, "Unknown reason, or the fields do not fit the report's kind."),
    "invalid_action": (422, "That moderation action does not apply to this report or user."),
    "reason_required": (422, "An operator's export of someone's data needs a reason."),
    "txn_id_conflict": (
        422,
        "That txn_id was already used by you for a different message (txn_ids are per sender).",
    ),
    "rate_limited": (429, "Too many requests of this kind; retry after `Retry-After` seconds."),
    "export_too_soon": (429, "You asked for an export recently; `details.retry_after` seconds."),
    "not_ready": (503, "The server cannot serve yet: database unreachable or not migrated."),
    "unavailable": (503, "The server is shutting down or overloaded; retry shortly."),
    "storage_unavailable": (503, "The media store failed (disk full, backend down); retry."),
    "internal_error": (500, "An unexpected error; the request id is in the logs."),
}


class BackchannelError(Exception):
    """An error with a stable code, raised anywhere and rendered by the API layer."""

    def __init__(self, code: str, message: str | None = None, **details: Any) -> None:
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.status = CODES[code][0]
        self.message = message or CODES[code][1]
        self.details = details
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}
