"""What a data export's ZIP holds, and its readable pages: pure functions, no I/O.

The pages are self-contained HTML meant to be opened from disk: one inline style sheet,
no scripts, nothing fetched from anywhere (a Content-Security-Policy says so to the
browser as well), links only to files inside the ZIP. Everything that came from a person
(names, message text, file names) is hostile input and is escaped; no text is turned into
a link.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; media-src 'self'"
STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}"
    ".m{border-bottom:1px solid #ddd;padding:.5rem 0}.meta{color:#666;font-size:.85em}"
    ".gone{color:#999;font-style:italic}pre{white-space:pre-wrap;font:inherit;margin:.2rem 0}"
)
README = (
    "This is your data from Backchannel. Open index.html in a browser to read it; the JSON "
    "files hold the same data for programs. Only what you could see is here: messages from "
    "the times you were a member of each conversation, as they were when the export was made.\n"
)


def media_path(media_pid: str, mime: str) -> str:
    """Where an attachment's bytes go in the ZIP: named by its id (never by its uploaded
    file name, which is hostile input), with an extension for its type."""
    extension = mimetypes.guess_extension(mime.split(";", 1)[0].strip()) or ".bin"
    return f"media/{media_pid}{extension}"


def conversation_path(conversation_pid: str, suffix: str) -> str:
    return f"conversations/{conversation_pid}.{suffix}"


def conversation_name(conversation: Mapping[str, Any]) -> str:
    """A conversation's name in the pages: its title, else who else is in it."""
    if conversation.get("title"):
        return str(conversation["title"])
    others = [_who(user) for user in conversation.get("with", [])]
    if others:
        return ", ".join(others)
    return "A group you left" if conversation["kind"] == "group" else "A conversation"


def index_page(account: Mapping[str, Any], conversations: Sequence[Mapping[str, Any]]) -> str:
    """index.html: the account, and a link to each conversation's page."""
    profile = account["profile"]
    rows = "".join(
        f'<li><a href="{escape(conversation_path(c["id"], "html"))}">'
        f"{escape(conversation_name(c))}</a> "
        f'<span class="meta">{c["message_count"]} messages</span></li>'
        for c in conversations
    )
    lists = "".join(
        f"<h3>{escape(title)}</h3><ul>"
        + "".join(f"<li>{escape(_who(user))}</li>" for user in account[key])
        + "</ul>"
        for key, title in (
            ("following", "You follow"),
            ("followers", "Your followers"),
            ("blocked", "You blocked"),
        )
    )
    devices = "".join(
        f"<li>{escape(s['device_name'])} "
        f'<span class="meta">since {escape(str(s["created_at"]))}, '
        f"last used {escape(str(s['last_used_at']))}</span></li>"
        for s in account["sessions"]
    )
    body = (
        f"<h1>Your data: @{escape(str(profile['handle']))}</h1>"
        f'<p class="meta">Exported {escape(account["exported_at"])}. The same data is in '
        '<a href="account.json">account.json</a> and the conversations\' JSON files.</p>'
        f"<h2>Profile</h2><p>{escape(str(profile['display_name']))}</p>"
        f"<pre>{escape(str(profile.get('bio') or ''))}</pre>"
        f"<h2>Conversations</h2><ul>{rows or '<li>None.</li>'}</ul>"
        f"<h2>People</h2>{lists}<h2>Devices</h2><ul>{devices}</ul>"
    )
    return page("Your Backchannel data", body)


def conversation_page(part: Mapping[str, Any]) -> str:
    """A conversation's page: its messages as the person saw them, with attachments
    linked to their files in the ZIP."""
    conversation = part["conversation"]
    items = "".join(_message(message, part["files"]) for message in part["messages"])
    body = (
        '<p><a href="../index.html">All conversations</a></p>'
        f"<h1>{escape(conversation_name(conversation))}</h1>"
        f'<p class="meta">{escape(conversation["kind"])}; '
        f'<a href="{escape(conversation["id"])}.json">as JSON</a></p>'
        f"{items or '<p>No messages you can see.</p>'}"
    )
    return page(conversation_name(conversation), body)


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _who(user: Mapping[str, Any]) -> str:
    if user.get("handle"):
        return f"{user['display_name']} (@{user['handle']})"
    return str(user.get("display_name") or "Deleted user")


def _message(message: Mapping[str, Any], files: Mapping[str, str]) -> str:
    meta = f"{_who(message['sender'])} · {message['created_at']}"
    if message["edited_at"]:
        meta += f" · edited {message['edited_at']}"
    if message["unsent"] or message.get("expired"):
        text = '<p class="gone">(no longer available)</p>'
    else:
        text = f"<pre>{escape(message['text'] or '')}</pre>"
    history = "".join(
        f'<li><span class="meta">until {escape(e["edited_at"])}</span> {escape(e["text"])}</li>'
        for e in message.get("edit_history", [])
    )
    if history:
        text += (
            f'<details><summary class="meta">Earlier versions</summary><ul>{history}</ul></details>'
        )
    attachments = "".join(_attachment(item, files) for item in message["media"])
    reactions = " ".join(
        f"{escape(r['emoji'])} {escape(', '.join(r['users']))}" for r in message["reactions"]
    )
    return (
        f'<div class="m"><div class="meta">{escape(meta)}</div>{text}'
        f"{attachments}"
        f"{f'<div class=meta>{reactions}</div>' if reactions else ''}</div>"
    )


def _attachment(item: Mapping[str, Any], files: Mapping[str, str]) -> str:
    name = item.get("filename") or item["kind"]
    path = files.get(item["id"])
    if path is None:
        return f'<p class="gone">{escape(name)} (not included)</p>'
    return f'<p><a href="../{escape(path)}">{escape(name)}</a></p>'
