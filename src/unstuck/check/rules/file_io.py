"""USK110 file-io: reading and writing files on the event loop.

Incident: an ``async def`` upload route saved ``file.file.read()`` with ``open(...).write``
(the article's ``save_file``): a 200 MB video held the loop for seconds, and on a
network disk for much longer. Every other request of the worker waited.

Fix: stream in chunks with ``await upload.read(chunk)`` and write through ``aiofiles`` /
``anyio.Path`` or ``await asyncio.to_thread(...)``; or make the route ``def``.
"""

from unstuck.check.rule import Rule, functions, methods

_PATH = "pathlib.Path"
_SPOOLED = "tempfile.SpooledTemporaryFile"

RULE = Rule(
    code="USK110",
    name="file-io",
    summary="is blocking file I/O on the event loop",
    fix="use `aiofiles` / `anyio.Path`, or `await asyncio.to_thread(...)`",
    advice="await aiofiles / anyio.Path (or asyncio.to_thread), or make it def",
    functions=frozenset({"builtins.open", "io.open"})
    | functions(
        "shutil",
        "copy copy2 copyfile copyfileobj copytree rmtree move make_archive unpack_archive",
    )
    | functions(
        "os", "listdir scandir walk remove unlink rename renames replace makedirs removedirs fsync"
    ),
    methods=methods(
        _PATH, "open read_text read_bytes write_text write_bytes iterdir glob rglob walk"
    )
    | methods(_SPOOLED, "read write readline readlines"),
    aliases={
        "pathlib.PosixPath": _PATH,
        "pathlib.WindowsPath": _PATH,
        "pathlib.PurePath": _PATH,
        "starlette.datastructures.UploadFile": "fastapi.UploadFile",
        "fastapi.datastructures.UploadFile": "fastapi.UploadFile",
    },
    returns={
        f"{_PATH}.{name}": _PATH
        for name in [
            "resolve",
            "absolute",
            "with_name",
            "with_suffix",
            "joinpath",
            "expanduser",
            "parent",
        ]
    },
    attribute_types={
        ("fastapi.UploadFile", "file"): _SPOOLED,
        (_PATH, "parent"): _PATH,
    },
)
