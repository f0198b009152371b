"""USK109 subprocess: waiting for a child process on the event loop.

Incident: ``subprocess.run(["ffprobe", ...])`` in an ``async def`` upload route: each
probe took a second and the worker served nothing else meanwhile. Starting a child
(``subprocess.Popen``, ``os.posix_spawn``) blocks too: it forks the worker's whole
address space and waits until the child has exec'd. GitPython does the same behind
its objects: ``repo.commit(...)``, ``commit.diff(...)``, ``repo.git.status()`` run ``git``
or read its packs, for every request of a route that serves a repository.

Fix: ``await asyncio.create_subprocess_exec(...)`` and ``await proc.communicate()``; or a
task queue for long jobs.
"""

from unstuck.check.rule import Client, FlagSet, Rule, functions, methods

_REPO = "git.Repo"
_COMMIT = "git.Commit"
# GitPython: most methods run ``git`` or read the object database; the objects they
# return (commits, trees, blobs) do the same when asked anything.
_GIT = (
    Client(
        _REPO,
        aliases="git.repo.Repo git.repo.base.Repo",
        returns={"commit": _COMMIT, "clone_from": _REPO, "init": _REPO},
    ),
    Client(
        _COMMIT,
        aliases="git.objects.Commit git.objects.commit.Commit",
        returns={"diff": "git.DiffIndex"},
    ),
    Client("git.cmd.Git", aliases="git.Git"),
    Client("git.Blob", aliases="git.objects.Blob git.objects.blob.Blob"),
    Client("git.Tree", aliases="git.objects.Tree git.objects.tree.Tree"),
    Client("git.Remote", aliases="git.remote.Remote"),
)

# pydub decodes and encodes every format but WAV by running ffmpeg and waiting for it
_AUDIO = "pydub.AudioSegment"
_AUDIO_DECODERS = "from_file from_mp3 from_ogg from_flv"
# what makes a new segment from one (in memory), which ``export`` may then encode
_AUDIO_EDITS = "set_frame_rate set_channels set_sample_width apply_gain overlay append"

_PEXPECT = "pexpect.spawn"
_PEXPECT_POPEN = "pexpect.popen_spawn.PopenSpawn"
_PEXPECT_WAITS = (
    "expect expect_exact expect_list read readline readlines read_nonblocking wait interact"
)

RULE = Rule(
    code="USK109",
    name="subprocess",
    catches="`subprocess.run/call/check_*/Popen`, `Popen.wait/communicate`, "
    "`os.system/popen/wait*/spawn*/posix_spawn*`, GitPython (`Repo`, commits, `repo.git.*`), "
    "pydub's `AudioSegment.from_file` and `export` (ffmpeg), pexpect (`run`, a spawn and "
    "its `expect`/`read`/`wait`), whisper's and WhisperX's `load_audio` (ffmpeg)",
    example="""\
import subprocess

from fastapi import FastAPI

app = FastAPI()

@app.post("/probe")
async def probe(path: str):
    return subprocess.run(["ffprobe", path], capture_output=True).stdout
""",
    doc=__doc__ or "",
    summary="waits for a child process on the event loop",
    fix="use `await asyncio.create_subprocess_exec(...)`, or a task queue for long jobs",
    advice="await asyncio.create_subprocess_exec(), or use a task queue for long jobs",
    functions=functions(
        "subprocess", "run call check_call check_output getoutput getstatusoutput Popen"
    )
    | functions("os", "system popen wait waitpid wait3 wait4 waitid posix_spawn posix_spawnp")
    | functions("os", "spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe")
    # opening a repository reads .git; cloning and creating one run git
    | functions(_REPO, "clone_from init")
    | frozenset({_REPO})
    | functions(_AUDIO, _AUDIO_DECODERS)
    # pexpect: ``run`` waits for the command; a spawn forks a child on a terminal
    | functions("pexpect", "run runu spawn")
    # audio decoded by an ffmpeg child, read whole (whisper's and WhisperX's helpers)
    | functions("whisper", "load_audio")
    | functions("whisper.audio", "load_audio")
    | functions("whisperx", "load_audio")
    | functions("whisperx.audio", "load_audio")
    | frozenset({_PEXPECT_POPEN}),
    methods=methods("subprocess.Popen", "wait communicate")
    | methods(_AUDIO, "export")
    # waiting for the child's output to match (up to the timeout), or for it to end
    | methods(_PEXPECT, _PEXPECT_WAITS)
    | methods(_PEXPECT_POPEN, _PEXPECT_WAITS)
    | methods("pexpect.replwrap.REPLWrapper", "run_command"),
    returns={f"{_AUDIO}.{name}": _AUDIO for name in f"{_AUDIO_DECODERS} {_AUDIO_EDITS}".split()},
    classes=frozenset({_PEXPECT}),  # named in lower case
    aliases={
        "pydub.audio_segment.AudioSegment": _AUDIO,
        "pexpect.pty_spawn.spawn": _PEXPECT,
        "pexpect.spawnu": _PEXPECT,
    },
    # WNOHANG: reap a child that has exited, or return at once
    nonblocking={
        # WAV is read in the process, without ffmpeg
        f"{_AUDIO}.from_file": ("format", 1, "wav"),
        f"{_AUDIO}.export": ("format", 1, "wav"),
        "os.waitpid": ("options", 1, FlagSet("os.WNOHANG")),
        "os.wait3": ("options", 0, FlagSet("os.WNOHANG")),
        "os.wait4": ("options", 1, FlagSet("os.WNOHANG")),
        "os.waitid": ("options", 2, FlagSet("os.WNOHANG")),
    },
    clients=_GIT,
    attribute_types={
        (_REPO, "git"): "git.cmd.Git",
        (_REPO, "head"): "git.Head",
        ("git.Head", "commit"): _COMMIT,
        (_COMMIT, "tree"): "git.Tree",
    },
)
