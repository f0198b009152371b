"""USK113 cpu-heavy: CPU-bound work on the event loop.

Incident: password hashing (bcrypt, ~250 ms by design) in an ``async def`` login route:
at 20 logins per second the loop was busy all the time and every endpoint's latency
went to seconds. Same story with PIL resizes, pandas CSV parsing and big Python loops.

Fix (the article's decision tree): under ~1 s, ``def`` or ``await loop.run_in_executor(
thread_pool, ...)`` (hashlib and PIL release the GIL); heavier, a process pool created in
lifespan (``run_in_executor(process_pool, ...)``); very heavy or queued, a Celery task.
"""

from unstuck.check.rule import Rule, functions, methods

_IMAGE = "PIL.Image.Image"
_FRAME = "pandas.DataFrame"

RULE = Rule(
    code="USK113",
    name="cpu-heavy",
    summary="is CPU-heavy work on the event loop",
    fix="run it in a process pool (`await loop.run_in_executor(process_pool, ...)`), "
    "or a thread for short work, or a task queue",
    advice="short: def or run_in_executor(thread pool); long: run_in_executor(process pool); "
    "very long or queued: Celery",
    functions=functions("hashlib", "pbkdf2_hmac scrypt")
    | functions("bcrypt", "hashpw checkpw kdf")
    | functions("argon2", "hash_password verify_password")
    | functions("PIL.Image", "open")
    | functions(
        "pandas",
        "read_csv read_excel read_parquet read_json read_sql read_html read_table read_feather",
    )
    | functions("passlib.hash.bcrypt", "hash verify")
    | functions("passlib.hash.argon2", "hash verify")
    | functions("passlib.hash.pbkdf2_sha256", "hash verify")
    | functions("passlib.hash.sha512_crypt", "hash verify"),
    methods=methods("passlib.context.CryptContext", "hash verify verify_and_update encrypt")
    | methods("argon2.PasswordHasher", "hash verify")
    | methods("pwdlib.PasswordHash", "hash verify verify_and_update")
    | methods(_IMAGE, "resize thumbnail save convert rotate transform filter load reduce quantize")
    | methods(_FRAME, "to_csv to_excel to_parquet to_json to_sql to_feather"),
    returns={
        "PIL.Image.open": _IMAGE,
        "PIL.Image.new": _IMAGE,
        **{
            f"pandas.{name}": _FRAME
            for name in [
                "read_csv",
                "read_excel",
                "read_parquet",
                "read_json",
                "read_sql",
                "read_table",
            ]
        },
    },
    aliases={
        "passlib.CryptContext": "passlib.context.CryptContext",
        "argon2._password_hasher.PasswordHasher": "argon2.PasswordHasher",
        "pandas.core.frame.DataFrame": _FRAME,
    },
)
