"""USK112 console-input: ``input()`` in code that runs on the event loop.

Incident: a debugging ``input()`` left in a coroutine: under a process manager stdin is
closed or never answered, and the worker hung with it.

Fix: never read the console in a server; take the value from settings or the request.
"""

from unstuck.check.rule import Rule

RULE = Rule(
    code="USK112",
    name="console-input",
    catches="`input()`",
    example="""\
from fastapi import FastAPI

app = FastAPI()

@app.post("/confirm")
async def confirm():
    return input("continue? ")
""",
    doc=__doc__ or "",
    summary="waits for console input on the event loop",
    fix="remove it: take the value from settings or the request",
    advice="never read stdin in a server",
    functions=frozenset({"builtins.input"}),
)
