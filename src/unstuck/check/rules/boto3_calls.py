"""USK107 boto3: AWS SDK calls (and client creation) on the event loop.

Incident: ``boto3.client("s3")`` in an ``async def`` upload route: creating the client
loads JSON service models (tens of milliseconds of CPU) and each ``put_object`` holds
the loop for the whole transfer.

Fix: create clients once at start-up and call them via ``await asyncio.to_thread(...)``,
or use an async SDK (aioboto3 / aiobotocore).
"""

from unstuck.check.rule import Client, Rule, methods

_CLIENT = "botocore.client.BaseClient"
_RESOURCE = "boto3.resources.base.ServiceResource"

RULE = Rule(
    code="USK107",
    name="boto3",
    catches="creating boto3 clients and calling them",
    example="""\
import boto3
from fastapi import FastAPI, UploadFile

app = FastAPI()

@app.post("/upload")
async def upload(file: UploadFile):
    boto3.client("s3").put_object(Bucket="media", Key=file.filename, Body=file.file)
""",
    doc=__doc__ or "",
    summary="is a blocking AWS SDK call on the event loop",
    fix="`await asyncio.to_thread(...)` around the call, or use aioboto3",
    advice="await asyncio.to_thread(...) around the SDK call, or use aioboto3",
    functions=frozenset({"boto3.client", "boto3.resource"}),
    methods=methods("boto3.Session", "client resource"),
    clients=(
        # local work only: URL signing, paginator and waiter objects
        Client(
            _CLIENT,
            local="generate_presigned_url generate_presigned_post get_paginator "
            "can_paginate get_waiter close",
        ),
        Client(_RESOURCE),
    ),
    returns={
        "boto3.client": _CLIENT,
        "boto3.resource": _RESOURCE,
        "boto3.Session.client": _CLIENT,
        "boto3.Session.resource": _RESOURCE,
    },
    aliases={"boto3.session.Session": "boto3.Session"},
)
