"""USK100 configured-blocking: calls the project declared blocking in ``[tool.unstuck]``.

Incident: in-house SDKs are invisible to any list of libraries: a team's own sync
``billing.charge()`` stalled the loop the same way ``requests`` does.

Fix: offload the call (``await asyncio.to_thread(...)``) or make the route ``def``.
"""

from unstuck.check.rule import Rule

RULE = Rule(
    code="USK100",
    name="configured-blocking",
    catches="calls you declared blocking in `extra-blocking`",
    example="""\
from fastapi import FastAPI

from billing import client

app = FastAPI()

@app.post("/orders/{order_id}/pay")
async def pay(order_id: int):
    client.charge(order_id)  # extra-blocking = ["billing.client.charge"]
""",
    doc=__doc__ or "",
    summary="is declared blocking in [tool.unstuck] extra-blocking",
    fix="`await asyncio.to_thread(...)` around it, or make the route `def`",
    advice="await asyncio.to_thread(...), or make it def",
)
