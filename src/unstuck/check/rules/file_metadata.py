"""USK117 file-metadata: asking about a path, or making, renaming or removing one entry,
on the event loop.

Incident: an ``async def`` download route checked ``os.path.exists(path)`` and
``os.path.getsize(path)`` before streaming from a network mount. Each ``stat`` took a
few microseconds on a local disk, but when the NFS server stalled, every one of them
waited seconds with the loop held, and the health check timed out with the rest.

Fix: ``await anyio.Path(path).exists()`` / ``await aiofiles.os.path.exists(path)``, or
``await asyncio.to_thread(os.path.getsize, path)``; or make the route ``def``.

A warning, and off by default (``--select USK117``, or ``select = ["USK117", ...]``): on
a local disk a ``stat``, a ``mkdir`` or an ``unlink`` takes microseconds and moves no
data, so it matters where files live on network storage (flake8-async's blocking checks
leave them out too). Where a line also reads or writes the file (USK110), only that is
reported; removing a whole tree (``shutil.rmtree``) stays USK110's.
"""

from unstuck.check.rule import Rule, functions, methods

RULE = Rule(
    code="USK117",
    name="file-metadata",
    summary="is a file-system metadata call on the event loop (a stall on a network disk)",
    fix="use `anyio.Path` / `aiofiles.os.path`, or `await asyncio.to_thread(...)`",
    advice="await anyio.Path / aiofiles.os.path (or asyncio.to_thread), or make it def",
    severity="warning",
    on_by_default=False,
    catches="`os.path.exists/isfile/isdir/getsize/getmtime/realpath/...`, `os.stat`, "
    "`os.access`, `pathlib.Path.exists/is_file/is_dir/stat`, one entry made, renamed or "
    "removed (`os.mkdir/makedirs/unlink/remove/rename/replace/rmdir`, `Path.mkdir/unlink/"
    "touch/rename/replace/rmdir`, `tempfile.mkdtemp/mkstemp`) (warning, off by default)",
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
    | functions("os", "stat lstat access")
    # one entry of a directory made, renamed or removed: no data moved
    | functions("os", "mkdir makedirs remove unlink rename renames replace rmdir removedirs")
    | functions("tempfile", "mkdtemp mkstemp"),
    methods=methods(
        "pathlib.Path", "exists is_file is_dir is_symlink is_mount stat lstat samefile owner group"
    )
    | methods("pathlib.Path", "mkdir unlink rmdir touch rename replace"),
    aliases={"posixpath": "os.path", "ntpath": "os.path"},
    subsumed_by=frozenset({"USK110"}),
)
