"""USK109 subprocess: waiting for a child process on the event loop.

Incident: ``subprocess.run(["ffprobe", ...])`` in an ``async def`` upload route: each
probe took a second and the worker served nothing else meanwhile.

Fix: ``await asyncio.create_subprocess_exec(...)`` and ``await proc.communicate()``; or a
task queue for long jobs.
"""

from unstuck.check.rule import Rule, functions, methods

RULE = Rule(
    code="USK109",
    name="subprocess",
    summary="waits for a child process on the event loop",
    fix="use `await asyncio.create_subprocess_exec(...)`, or a task queue for long jobs",
    advice="await asyncio.create_subprocess_exec(), or use a task queue for long jobs",
    functions=functions("subprocess", "run call check_call check_output getoutput getstatusoutput")
    | functions(
        "os", "system popen wait waitpid wait3 wait4 waitid spawnl spawnle spawnlp spawnv spawnve"
    ),
    methods=methods("subprocess.Popen", "wait communicate"),
)
