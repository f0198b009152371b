"""``POST /ml-inference``: a real classifier, run in the process pool.

The model (a random forest on scikit-learn's bundled iris data set, no
download) is trained once in each pool process by :func:`load_model`, the
pool's initializer, and kept there; a request sends only its feature rows.
The pool is created per worker process in lifespan with an explicit start
method (``fork`` from a threaded server is unsafe; ``forkserver``, the default,
forks from a server that has scikit-learn imported already) and shut down on
exit.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from unstuck.service.errors import POOL_REPLACED
from unstuck.service.settings import Settings
from unstuck.service.state import StateDep

router = APIRouter(tags=["cpu"])

FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
MAX_ROWS = 1_000
# The forest compares features as float32: a value past its range (about 3.4e38) is an
# error inside scikit-learn. No flower measures anywhere near this many centimetres.
MAX_FEATURE_CM = 1_000.0

# Set in each pool process by the initializer; never in the server process.
_model: Any = None
_labels: list[str] = []

# Strict: a number, never a string or a boolean that pydantic would otherwise convert.
Feature = Annotated[float, Field(strict=True, ge=0, le=MAX_FEATURE_CM, allow_inf_nan=False)]
Row = Annotated[list[Feature], Field(min_length=len(FEATURES), max_length=len(FEATURES))]


class InferenceRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}]}
    )

    features: list[Row] = Field(
        min_length=1,
        max_length=MAX_ROWS,
        description=f"one row per flower, each from 0 to {MAX_FEATURE_CM:g}: "
        + ", ".join(FEATURES),
    )


class Prediction(BaseModel):
    label: str
    probabilities: dict[str, float]


class InferenceResult(BaseModel):
    model: str
    predictions: list[Prediction]
    worker_pid: int


def load_model() -> None:
    """Pool initializer: train the classifier in this process, once."""
    global _model, _labels
    # Ctrl-C reaches the whole process group: the server stops its pool itself, a pool
    # process that took SIGINT would only print a traceback and break the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _model is not None:
        return  # forked from the fork server, which trained it (inference_preload)
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    iris = load_iris()
    model = RandomForestClassifier(n_estimators=50, random_state=0)
    model.fit(iris.data, iris.target)
    _model, _labels = model, [str(name) for name in iris.target_names]


def predict(rows: list[list[float]]) -> tuple[list[tuple[str, dict[str, float]]], int]:
    """Runs in a pool process: the label and class probabilities of each row, and the pid."""
    if _model is None:
        raise RuntimeError("predict() runs in the process pool, whose initializer loads the model")
    results = []
    for row in _model.predict_proba(rows):
        probabilities = {label: float(p) for label, p in zip(_labels, row, strict=True)}
        results.append((max(probabilities, key=probabilities.__getitem__), probabilities))
    return results, os.getpid()


def create_process_pool(settings: Settings) -> ProcessPoolExecutor:
    context = multiprocessing.get_context(settings.process_pool_start_method)
    if isinstance(context, multiprocessing.context.ForkServerContext):
        # The fork server trains the model once; every pool process, a replacement
        # pool's included, is forked from it with the model ready.
        context.set_forkserver_preload(["unstuck.service.inference_preload"])
    return ProcessPoolExecutor(
        max_workers=settings.process_pool_workers, mp_context=context, initializer=load_model
    )


@router.post("/ml-inference", responses=POOL_REPLACED)
async def ml_inference(body: InferenceRequest, state: StateDep) -> InferenceResult:
    results, pid = await state["process_pool"].run(predict, body.features)
    return InferenceResult(
        model="random forest (50 trees) trained on the iris data set",
        predictions=[Prediction(label=label, probabilities=p) for label, p in results],
        worker_pid=pid,
    )
