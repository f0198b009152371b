"""USK117 file-metadata: asking the file system about a path on the event loop.

Incident: an ``async def`` download route checked ``os.path.exists(path)`` and
``os.path.getsize(path)`` before streaming from a network mount. Each ``stat`` took a
few microseconds on a local disk, but when the NFS server stalled, every one of them
waited seconds with the loop held, and the health check timed out with the rest.

Fix: ``await anyio.Path(path).exists()`` / ``await aiofiles.os.path.exists(path)``, or
``await asyncio.to_thread(os.path.getsize, path)``; or make the route ``def``.

A warning, and off by default (``--select USK117``, or ``select = ["USK117", ...]``): on
a local disk a ``stat`` takes microseconds, so it matters where files live on network
storage. Where a line also reads or writes the file (USK110), only that is reported.
"""

from unstuck.check.rule import Rule, functions, methods

RULE = Rule(
    code="USK117",
    name="file-metadata",
    summary="asks the file system on the event loop (a stall on a network disk)",
    fix="use `anyio.Path` / `aiofiles.os.path`, or `await asyncio.to_thread(...)`",
    advice="await anyio.Path / aiofiles.os.path (or asyncio.to_thread), or make it def",
    severity="warning",
    on_by_default=False,
    catches="`os.path.exists/isfile/isdir/getsize/getmtime/realpath/...`, `os.stat`, "
    "`os.access`, `pathlib.Path.exists/is_file/is_dir/stat` (warning, off by default)",
    example="""\
import os.path

from fastapi import FastAPI, HTTPException

app = FastAPI()

@app.get("/files/{name}")
async def download(name: str):
    if not os.path.exists(f"/mnt/share/{name}"):
        raise HTTPException(404)
""",
    doc=__doc__ or "",
    functions=functions(
        "os.path",
        "exists lexists isfile isdir islink ismount isjunction getsize getmtime getatime "
        "getctime samefile sameopenfile realpath",
    )
    | functions("os", "stat lstat access"),
    methods=methods(
        "pathlib.Path", "exists is_file is_dir is_symlink is_mount stat lstat samefile owner group"
    ),
    aliases={"posixpath": "os.path", "ntpath": "os.path"},
    subsumed_by=frozenset({"USK110"}),
)
