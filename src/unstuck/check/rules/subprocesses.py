"""USK109 subprocess: waiting for a child process on the event loop.

Incident: ``subprocess.run(["ffprobe", ...])`` in an ``async def`` upload route: each
probe took a second and the worker served nothing else meanwhile. Starting a child
(``subprocess.Popen``, ``os.posix_spawn``) blocks too: it forks the worker's whole
address space and waits until the child has exec'd.

Fix: ``await asyncio.create_subprocess_exec(...)`` and ``await proc.communicate()``; or a
task queue for long jobs.
"""

from unstuck.check.rule import Rule, functions, methods

RULE = Rule(
    code="USK109",
    name="subprocess",
    catches="`subprocess.run/call/check_*/Popen`, `Popen.wait/communicate`, "
    "`os.system/popen/wait*/spawn*/posix_spawn*`",
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
    | functions("os", "spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe"),
    methods=methods("subprocess.Popen", "wait communicate"),
)
