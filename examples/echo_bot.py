"""An echo bot: answers every direct message it receives with the same text.

python examples/echo_bot.py http://127.0.0.1:8000 echobot 'its password'

It listens and answers over one WebSocket (`Client.stream()`), which reconnects and
resumes by itself, so while it runs the bot never misses a message nor answers one twice.
"""

import asyncio
import sys

from backchannel.client import Client


async def run(base_url: str, handle: str, password: str) -> None:
    async with (
        await Client.login(base_url, handle, password, device_name="echo bot") as bot,
        bot.stream() as stream,
    ):
        async for event in stream.events():
            message = event["data"].get("message")
            if event["type"] == "message.created" and message["sender"]["handle"] != handle:
                await stream.send(
                    message["conversation_id"], message["text"], reply_to=message["id"]
                )


if __name__ == "__main__":
    asyncio.run(run(*sys.argv[1:4]))
