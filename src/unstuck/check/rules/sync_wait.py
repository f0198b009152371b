"""USK114 sync-wait: waiting on threads, futures, locks or queues on the event loop.

Incident: ``process_pool.submit(fn).result()`` in an ``async def``: the work ran in
another process, as intended, but the loop sat in ``result()`` until it finished.

Fix: ``await loop.run_in_executor(pool, fn)`` or ``await asyncio.wrap_future(future)``;
asyncio's own ``Event``/``Lock``/``Queue`` in coroutines.
"""

from unstuck.check.model import ITERATED
from unstuck.check.rule import Client, Rule, Sized, Wording, functions, methods

_FUTURE = "concurrent.futures.Future"
_EXECUTOR = "concurrent.futures.Executor"
_BOUNDED = "queue.BoundedQueue"  # a queue.Queue made with a maxsize
_FILE_LOCK = "filelock.FileLock"
_STREAMER = "transformers.TextIteratorStreamer"
# multiprocessing's managers: the shared objects they hand out are proxies, every method
# of which is a request to the manager's process and a wait for its answer
_MANAGER = "multiprocessing.managers.SyncManager"
_PROXY = "multiprocessing.managers.BaseProxy"
_SHARED = (
    "Queue JoinableQueue dict list Lock RLock Event Condition Semaphore BoundedSemaphore "
    "Barrier Value Array Namespace"
)
_PROXIES = "DictProxy ListProxy AutoProxy ValueProxy NamespaceProxy AcquirerProxy EventProxy"

RULE = Rule(
    code="USK114",
    name="sync-wait",
    catches="`Future.result()`, `Executor.shutdown/map`, `threading` waits, `queue.Queue.get` "
    "(and `put` on a bounded one), lock files (filelock) acquired or entered, transformers' "
    "`TextIteratorStreamer` iterated, multiprocessing managers' shared objects (each call a "
    "round trip to the manager's process), `multiprocessing.Queue.get`, the future of a "
    "function decorated by pebble's `concurrent.process`/`thread`",
    example="""\
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI

app = FastAPI()
pool = ThreadPoolExecutor()


def build_report() -> str: ...

@app.get("/report")
async def report():
    return pool.submit(build_report).result()
""",
    doc=__doc__ or "",
    summary="waits for a thread, process, lock or queue on the event loop",
    fix="`await loop.run_in_executor(...)` / `await asyncio.wrap_future(...)`, "
    "or asyncio's Event/Lock/Queue",
    advice="await asyncio.wrap_future() / run_in_executor, or use asyncio primitives",
    # a manager starts its server process and waits until it answers
    functions=functions("concurrent.futures", "wait as_completed")
    | frozenset({"multiprocessing.Manager"}),
    methods=methods(_FUTURE, "result exception")
    | methods(_EXECUTOR, "shutdown map")
    | methods("threading.Event", "wait")
    | methods("threading.Lock", "acquire")
    | methods("threading.Thread", "join")
    # ``put`` waits only on a bounded queue that is full (``Queue(maxsize=10)``)
    | methods("queue.Queue", "get join")
    | methods(_BOUNDED, "get put join")
    | methods("multiprocessing.pool.Pool", "map starmap apply join")
    | methods("multiprocessing.queues.Queue", "get join_thread")
    # a lock file held by another process: ``acquire`` polls it with ``time.sleep`` until
    # it is free (or its timeout, by default never)
    | methods(_FILE_LOCK, "acquire __enter__")
    # transformers' streamer of the text a model generates in another thread: a loop over
    # it waits on its queue for each piece, for the whole generation
    | frozenset({(_STREAMER, ITERATED), (_STREAMER, "__next__")}),
    # pebble's decorators run the function in a process or thread of their own: a call
    # gives a future, whose ``result()`` is the wait
    runs_elsewhere={f"pebble.concurrent.{kind}": _FUTURE for kind in ("process", "thread")},
    # run_coroutine_threadsafe(...).result() on the loop waits for the loop itself: deadlock
    returns={
        f"{_EXECUTOR}.submit": _FUTURE,
        "asyncio.run_coroutine_threadsafe": _FUTURE,
        "multiprocessing.Manager": _MANAGER,
        "multiprocessing.Queue": "multiprocessing.queues.Queue",
    },
    clients=(
        Client(
            _MANAGER,
            local="register",
            aliases="multiprocessing.managers.BaseManager",
            returns={name: _PROXY for name in _SHARED.split()},
        ),
        Client(_PROXY, aliases=" ".join(f"multiprocessing.managers.{p}" for p in _PROXIES.split())),
    ),
    aliases={
        "transformers.generation.streamers.TextIteratorStreamer": _STREAMER,
        "transformers.generation.TextIteratorStreamer": _STREAMER,
        "concurrent.futures.ThreadPoolExecutor": _EXECUTOR,
        "concurrent.futures.ProcessPoolExecutor": _EXECUTOR,
        "concurrent.futures.thread.ThreadPoolExecutor": _EXECUTOR,
        "concurrent.futures.process.ProcessPoolExecutor": _EXECUTOR,
        "concurrent.futures._base.Future": _FUTURE,
        "threading.RLock": "threading.Lock",
        "threading.Semaphore": "threading.Lock",
        "threading.BoundedSemaphore": "threading.Lock",
        "queue.LifoQueue": "queue.Queue",
        "queue.PriorityQueue": "queue.Queue",
        "queue.SimpleQueue": "queue.Queue",
        "multiprocessing.Pool": "multiprocessing.pool.Pool",
        **{
            f"filelock.{name}": _FILE_LOCK
            for name in ("SoftFileLock", "UnixFileLock", "WindowsFileLock", "BaseFileLock")
        },
    },
    messages={
        f"{_FILE_LOCK}.{name}": Wording(
            "waits for a lock file another process may hold, polling it on the event loop",
            "take it in a thread (`await asyncio.to_thread(lock.acquire)`), "
            "or make the route `def`",
        )
        for name in ("acquire", "__enter__")
    },
    sized={"queue.Queue": Sized("maxsize", 0, _BOUNDED)},
    classes=frozenset({"threading.Lock"}),
    nonblocking={
        f"{_EXECUTOR}.shutdown": ("wait", 0, False),
        "threading.Lock.acquire": ("blocking", 0, False),
        "queue.Queue.get": ("block", 0, False),
        f"{_BOUNDED}.get": ("block", 0, False),
        f"{_BOUNDED}.put": ("block", 1, False),
        "threading.Thread.join": ("timeout", 0, 0),
        "threading.Event.wait": ("timeout", 0, 0),
        f"{_FILE_LOCK}.acquire": ("blocking", -1, False),
        "multiprocessing.queues.Queue.get": ("block", 0, False),
    },
)
