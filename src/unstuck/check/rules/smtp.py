"""USK108 smtp: ``smtplib`` on the event loop.

Incident: a sign-up route sent the welcome e-mail with ``smtplib.SMTP(...)`` inside
``async def``; the mail relay's greeting delay (often seconds, on purpose) stalled every
request of the worker.

Fix: ``aiosmtplib`` with ``await``, or a ``BackgroundTasks``/task-queue job that sends it.
"""

from unstuck.check.rule import Client, Rule

RULE = Rule(
    code="USK108",
    name="smtp",
    catches="`smtplib`",
    example="""\
import smtplib

from fastapi import FastAPI

app = FastAPI()

@app.post("/contact")
async def contact(message: str):
    with smtplib.SMTP("mail.example.com") as smtp:
        smtp.sendmail("app@example.com", ["team@example.com"], message)
""",
    doc=__doc__ or "",
    summary="is blocking SMTP I/O on the event loop",
    fix="use `aiosmtplib` with await, or send it from a background task / task queue",
    advice="await aiosmtplib, or hand it to BackgroundTasks / a task queue",
    # the constructor connects when it is given a host
    functions=frozenset({"smtplib.SMTP", "smtplib.SMTP_SSL", "smtplib.LMTP"}),
    clients=(Client("smtplib.SMTP", aliases="smtplib.SMTP_SSL smtplib.LMTP"),),
)
