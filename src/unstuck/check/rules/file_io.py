"""USK110 file-io: reading and writing files on the event loop.

Incident: an ``async def`` upload route saved ``file.file.read()`` with ``open(...).write``
(the article's ``save_file``): a 200 MB video held the loop for seconds, and on a
network disk for much longer. Every other request of the worker waited.

Fix: stream in chunks with ``await upload.read(chunk)`` and write through ``aiofiles`` /
``anyio.Path`` or ``await asyncio.to_thread(...)``; or make the route ``def``.
"""

from unstuck.check.model import ITERATED
from unstuck.check.rule import (
    ANY_METHOD,
    InMemory,
    MemoryPath,
    ReturnsFor,
    Rule,
    functions,
    methods,
)

_PATH = "pathlib.Path"
_SPOOLED = "tempfile.SpooledTemporaryFile"
_LI_READER = "llama_index.core.SimpleDirectoryReader"
_LI_STORAGE = "llama_index.core.StorageContext"
_MUTAGEN = "mutagen.FileType"
_MUTAGEN_FORMATS = (
    "mutagen.mp3.MP3",
    "mutagen.flac.FLAC",
    "mutagen.mp4.MP4",
    "mutagen.oggvorbis.OggVorbis",
    "mutagen.id3.ID3",
    "mutagen.easyid3.EasyID3",
    "mutagen.wave.WAVE",
    "mutagen.aiff.AIFF",
)
# What ``open()`` returns, by mode; a parameter annotated with one of them is a file too.
_TEXT_FILE = "io.TextIOWrapper"
_BINARY_READER = "io.BufferedReader"
_FILE_OBJECTS = (_TEXT_FILE, _BINARY_READER, "io.BufferedWriter", "io.BufferedRandom", "io.FileIO")
# procfs and sysfs: their files are the kernel's state, read from memory
# (``/proc/self/status``, ``/sys/fs/cgroup/memory.max``).
_MEMORY_ROOTS = ("/proc", "/sys")
# Methods of an open file that never touch the disk; ``close`` only hands the kernel
# what ``write`` left in the buffer, and that ``write`` is reported where it is.
_FILE_LOCAL = "fileno isatty readable writable seekable detach tell seek close"

RULE = Rule(
    code="USK110",
    name="file-io",
    summary="is blocking file I/O on the event loop",
    fix="use `aiofiles` / `anyio.Path`, or `await asyncio.to_thread(...)`",
    advice="await aiofiles / anyio.Path (or asyncio.to_thread), or make it def",
    catches="`open`, `io.open_code`, `os.fdopen`, methods of open files (also parameters "
    "typed `io.TextIOWrapper`/`io.Buffered*`), `pathlib.Path` reads/writes/globs, "
    "`glob.glob`, `shutil`, `os` file calls, `tempfile` files and directories, "
    "faiss indexes, networkx graphs, LlamaIndex folders read and storage persisted, "
    "audio tags read or written (mutagen), "
    "nano-vectordb stores, joblib/numpy/torch files "
    "read or written, "
    "`importlib.reload`, `importlib.resources.read_text`/`files(...)` reads, "
    "`pkgutil.get_data`, `.env` files read (python-dotenv), "
    "archives opened from a path (`zipfile.ZipFile`) and unpacked or "
    "added to (`extractall`, `extract`, `write`/`add`, also of `tarfile`), "
    "`UploadFile.file.read()` (not files under `/proc` or `/sys`, also in `async with`)",
    example="""\
from fastapi import FastAPI, UploadFile

app = FastAPI()

@app.post("/upload")
async def upload(file: UploadFile):
    with open(f"var/{file.filename}", "wb") as out:
        out.write(file.file.read())
""",
    doc=__doc__ or "",
    functions=frozenset({"builtins.open", "io.open", "io.open_code"})
    | functions(
        "shutil",
        "copy copy2 copyfile copyfileobj copytree rmtree move make_archive unpack_archive",
    )
    # a glob lists directories (``iglob`` as it is iterated, on the line that asks)
    | functions("glob", "glob iglob")
    # indexes and graphs read from or written to files whole (a ``NanoVectorDB`` made
    # with its file loads it)
    | functions("faiss", "read_index write_index")
    # reads the module's source (or bytecode) again and runs it: never a cached import
    | functions("importlib", "reload")
    # a package's data files: read from the disk (or the zip) at each call
    | functions("importlib.resources", "read_text read_binary")
    | functions("pkgutil", "get_data")
    # a ``.env`` file looked for (up the folders) and read: meant for start-up
    | functions("dotenv", "load_dotenv dotenv_values find_dotenv")
    | functions("nano_vectordb", "NanoVectorDB")
    # an index read back from the files of its storage folder
    | frozenset({"llama_index.core.load_index_from_storage"})
    # an audio file's tags read from it (the file given is opened and parsed)
    | functions("mutagen", "File")
    | frozenset(_MUTAGEN_FORMATS)
    # arrays, models and pickles read from or written to a file whole
    | functions("joblib", "load dump")
    | functions("numpy", "load save savez savez_compressed loadtxt savetxt genfromtxt fromfile")
    | functions("torch", "load save")
    | functions(
        "networkx",
        "read_graphml write_graphml read_gml write_gml read_gexf write_gexf read_edgelist "
        "write_edgelist read_adjlist write_adjlist read_pajek write_pajek",
    )
    # they open a file at once (a ``TemporaryDirectory`` also deletes its whole tree on
    # exit); ``SpooledTemporaryFile`` stays in memory until it grows. Making, renaming or
    # removing one entry moves no data: USK117's (off by default)
    | functions("tempfile", "TemporaryDirectory NamedTemporaryFile TemporaryFile")
    | functions("os", "listdir scandir walk fsync fdopen truncate")
    # an archive opened from a path reads its directory from the file at once
    | functions("zipfile", "ZipFile"),
    methods=methods(
        # unpacking writes every member to the disk, adding one reads it from there,
        # whatever the archive itself is kept in
        "zipfile.ZipFile",
        "extractall extract write",
    )
    | methods("tarfile.TarFile", "extractall extract add")
    | methods(
        _PATH,
        "open read_text read_bytes write_text write_bytes iterdir glob rglob walk",
    )
    | methods(_SPOOLED, "read write readline readlines")
    | methods("nano_vectordb.NanoVectorDB", "save")
    # LlamaIndex: a folder's documents read, an index's storage written to or read from
    # its folder
    | methods(_LI_READER, "load_data iter_data")
    | methods(_LI_STORAGE, "persist")
    # the tags written back into the file (or removed from it)
    | methods(_MUTAGEN, "save delete")
    | frozenset((cls, ANY_METHOD) for cls in _FILE_OBJECTS)
    # ``for line in handle:`` reads the file
    | frozenset((cls, ITERATED) for cls in (*_FILE_OBJECTS, _SPOOLED)),
    method_exceptions=frozenset(
        (cls, name) for cls in _FILE_OBJECTS for name in _FILE_LOCAL.split()
    ),
    aliases={
        "llama_index.core.readers.file.base.SimpleDirectoryReader": _LI_READER,
        "llama_index.SimpleDirectoryReader": _LI_READER,
        "llama_index.core.storage.storage_context.StorageContext": _LI_STORAGE,
        "llama_index.StorageContext": _LI_STORAGE,
        "pathlib.PosixPath": _PATH,
        "pathlib.WindowsPath": _PATH,
        "pathlib.PurePath": _PATH,
        "starlette.datastructures.UploadFile": "fastapi.UploadFile",
        "fastapi.datastructures.UploadFile": "fastapi.UploadFile",
        "_io.TextIOWrapper": _TEXT_FILE,
        "_io.BufferedReader": _BINARY_READER,
        "_io.BufferedWriter": "io.BufferedWriter",
        "_io.BufferedRandom": "io.BufferedRandom",
        "_io.FileIO": "io.FileIO",
    },
    returns={
        "llama_index.core.StorageContext.from_defaults": _LI_STORAGE,
        "mutagen.File": _MUTAGEN,
        **{name: _MUTAGEN for name in _MUTAGEN_FORMATS},
        # a package's folder: a path on the disk, unless the package is zipped
        "importlib.resources.files": _PATH,
        **{
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
        "builtins.open": _TEXT_FILE,
        "io.open": _TEXT_FILE,
        "tarfile.open": "tarfile.TarFile",
        "os.fdopen": _TEXT_FILE,
        "io.open_code": _BINARY_READER,
        # opened ``w+b`` unless told otherwise
        "tempfile.NamedTemporaryFile": "io.BufferedRandom",
        "tempfile.TemporaryFile": "io.BufferedRandom",
        f"{_PATH}.open": _TEXT_FILE,
    },
    # a wrapper made around a stream does I/O when that stream does: around an open file
    # it is one; around ``BytesIO`` or a class of the project that keeps bytes in
    # memory, nothing is known of it
    returns_for_argument={
        wrapper: ReturnsFor(frozenset({*_FILE_OBJECTS, _SPOOLED}), wrapper)
        for wrapper in (_TEXT_FILE, _BINARY_READER, "io.BufferedWriter", "io.BufferedRandom")
    },
    yields={f"{_PATH}.{name}": _PATH for name in ("iterdir", "glob", "rglob")},
    # saved to or loaded from a buffer in memory: no file
    nonblocking={
        "zipfile.ZipFile": ("file", 0, InMemory()),
        "torch.save": ("f", 1, InMemory()),
        "torch.load": ("f", 0, InMemory()),
        "joblib.dump": ("filename", 1, InMemory()),
        "joblib.load": ("filename", 0, InMemory()),
        **{
            f"numpy.{name}": ("file", 0, InMemory())
            for name in ("load", "save", "savez", "savez_compressed")
        },
    },
    memory_paths={
        **{name: MemoryPath("file", 0, _MEMORY_ROOTS) for name in ("builtins.open", "io.open")},
        **{f"os.{name}": MemoryPath("path", 0, _MEMORY_ROOTS) for name in ("listdir", "scandir")},
        _PATH: MemoryPath("", 0, _MEMORY_ROOTS),
    },
    attribute_types={
        ("llama_index.core.VectorStoreIndex", "storage_context"): _LI_STORAGE,
        ("fastapi.UploadFile", "file"): _SPOOLED,
        (_PATH, "parent"): _PATH,
    },
)
