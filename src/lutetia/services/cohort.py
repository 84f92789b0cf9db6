"""Image dosimetry over a cohort of studies: one task per study on Dask (dask.distributed).

A cohort is a folder whose sub-folders are studies (the layout of
:func:`lutetia.services.image_dosimetry.study_inputs`). Each study runs as one
task on a Dask cluster: a :class:`distributed.LocalCluster` of worker processes
by default, or an existing scheduler given by its address. A study that fails
is reported with its reason and does not stop the others. The result is one
table: a row per study and region.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lutetia.errors import BadInputError
from lutetia.services.image_dosimetry import Options, run_study, study_inputs

#: Local worker processes allowed per CPU (each is a Python process with the imaging stack).
MAX_WORKERS_PER_CPU: Final[int] = 4
#: Columns of the cohort table, in order.
COLUMNS: Final[tuple[str, ...]] = (
    "study",
    "region",
    "mass_g",
    "volume_ml",
    "timepoints",
    "model",
    "tia_mbq_h",
    "tia_sd_mbq_h",
    "absorbed_dose_gy",
    "mean_voxel_dose_gy",
    "d2_gy",
    "d50_gy",
    "d98_gy",
    "injected_mbq",
    "warnings",
    "mass_method",
    "dose_model",
    "timepoints_h",
    "activities_mbq",
    "warning_texts",
    "study_warnings",
    "study_warning_texts",
    "voxel_dose_method",
    "calibration",
)


@dataclass(frozen=True)
class StudyFailure:
    """A study that gave no result, and why."""

    study: str
    reason: str


@dataclass(frozen=True)
class CohortResult:
    """The table rows, the failures, and where the work ran."""

    rows: list[dict[str, Any]]
    failures: list[StudyFailure]
    studies: int
    scheduler: str


def printable(text: str) -> str:
    """``text`` with bytes a file name held that are not UTF-8 (Python's surrogate escapes)
    written as ``\\xff``, so that a table, a JSON document and a terminal can take it."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def study_name(path: Path) -> str:
    """A study's name as the table, the document and a terminal show it: its folder's name
    (:func:`printable`)."""
    return printable(path.name)


def _is_study(folder: Path) -> bool:
    """A sub-folder holding a study.json or a ``spect*`` folder; one that cannot be read is
    taken as a study, so that it fails with its reason instead of being passed over."""
    try:
        return (folder / "study.json").is_file() or any(
            c.is_dir() and c.name.lower().startswith("spect") for c in folder.iterdir()
        )
    except OSError:
        return True


def find_studies(cohort: str | Path) -> list[Path]:
    """The study folders of a cohort: sub-folders holding a ``spect*`` folder or a study.json
    (hidden folders, whose names begin with a dot, are not studies)."""
    root = Path(cohort)
    if not root.is_dir():
        raise BadInputError("--cohort", f"{root} is not a folder")
    try:
        folders = [p for p in root.iterdir() if not p.name.startswith(".") and p.is_dir()]
    except OSError as error:
        raise BadInputError("--cohort", f"{root} cannot be read: {error.strerror}") from None
    studies = sorted(p for p in folders if _is_study(p))
    if not studies:
        raise BadInputError("--cohort", f"{root} holds no study (sub-folders with spect* folders)")
    return studies


def study_rows(study: str, document: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per region of a study's result document."""
    rows = []
    warnings = document.get("warnings", [])
    names = tuple(f"{name}:" for name in document["regions"])
    # The study's own warnings (motion, calibration, time zone, administration): every row.
    study_wide = [w for w in warnings if not w.startswith(names)]
    for name, region in document["regions"].items():
        dvh = region.get("dvh") or {}
        points = region.get("timepoints", [])
        mine = [w for w in warnings if w.startswith(f"{name}:")]
        rows.append(
            {
                "study": study,
                "region": name,
                "mass_g": region.get("mass_g"),
                "volume_ml": region.get("volume_ml"),
                "timepoints": len(region.get("timepoints", [])),
                "model": region.get("model"),
                "tia_mbq_h": region.get("tia_mbq_h"),
                "tia_sd_mbq_h": region.get("tia_sd_mbq_h"),
                "absorbed_dose_gy": region.get("absorbed_dose_gy"),
                "mean_voxel_dose_gy": region.get("mean_voxel_dose_gy"),
                "d2_gy": dvh.get("d2_gy"),
                "d50_gy": dvh.get("d50_gy"),
                "d98_gy": dvh.get("d98_gy"),
                "injected_mbq": document["injection"]["activity_mbq"],
                "warnings": len(mine),
                "mass_method": region.get("mass_method"),
                "dose_model": region.get("dose_model"),
                "timepoints_h": ";".join(f"{p['t_h']:.6g}" for p in points),
                "activities_mbq": ";".join(
                    "" if p["activity_mbq"] is None else f"{p['activity_mbq']:.6g}" for p in points
                ),
                "warning_texts": " | ".join(mine),
                "study_warnings": len(study_wide),
                "study_warning_texts": " | ".join(study_wide),
                "voxel_dose_method": (document.get("voxelwise") or {}).get("dose_method"),
                "calibration": " | ".join(
                    str(entry.get("quantification", "")) for entry in document.get("series", [])
                ),
            }
        )
    return rows


def run_one(folder: str, options: Options) -> tuple[bool, Any]:
    """Run one study; never raises: ``(True, rows)`` or ``(False, reason)``.

    The task that a Dask worker runs. Exceptions are turned into a reason here,
    in the worker, so that nothing has to be unpickled on the way back.
    """
    name = study_name(Path(folder))
    try:
        document = run_study(study_inputs(folder), options)
    except BadInputError as error:
        return False, printable(str(error))
    except Exception as error:  # one failing study must not stop the cohort
        return False, printable(f"internal error: {type(error).__name__}: {error}")
    rows = study_rows(name, document)
    return True, [
        {key: printable(value) if isinstance(value, str) else value for key, value in row.items()}
        for row in rows
    ]


#: Seconds to wait for a scheduler given by --scheduler to connect and answer.
SCHEDULER_TIMEOUT_S: Final[float] = 10.0


def _probe_scheduler(address: str) -> None:
    """Refuse, within :data:`SCHEDULER_TIMEOUT_S`, an address where no Dask scheduler
    answers: asked who it is (the ``identity`` operation of every Dask server), a server that
    accepts the connection and stays silent, or speaks another protocol, is not one (a
    Client would wait on the first without end and misread the second's bytes as sizes)."""
    import asyncio
    import threading

    from distributed.comm.core import connect

    async def ask() -> Any:
        comm = await connect(address, timeout=SCHEDULER_TIMEOUT_S)  # type: ignore[no-untyped-call]
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    outcome: dict[str, Any] = {}

    def probe() -> None:  # in a thread of its own: the caller may be running an event loop
        try:
            outcome["answer"] = asyncio.run(asyncio.wait_for(ask(), SCHEDULER_TIMEOUT_S))
        except BaseException as error:  # refused, unresolvable, another protocol's bytes
            outcome["error"] = error

    thread = threading.Thread(target=probe, name="scheduler-probe", daemon=True)
    thread.start()
    thread.join(SCHEDULER_TIMEOUT_S + 5.0)
    error = outcome.get("error")
    if thread.is_alive() or isinstance(error, TimeoutError):
        raise BadInputError(
            "--scheduler",
            f"{address}: no answer within {SCHEDULER_TIMEOUT_S:g} s (not a Dask scheduler?)",
        )
    if error is not None:
        raise BadInputError(
            "--scheduler", f"{address}: not a Dask scheduler ({type(error).__name__}: {error})"
        )
    answer = outcome.get("answer")
    if not (isinstance(answer, dict) and answer.get("type") == "Scheduler"):
        kind = answer.get("type") if isinstance(answer, dict) else type(answer).__name__
        raise BadInputError("--scheduler", f"{address}: answers as {kind}, not a Dask scheduler")


#: Seconds a cohort waits with no worker on the scheduler before it gives up.
NO_WORKER_TIMEOUT_S: Final[float] = 30.0


def _wait_for_workers(client: Any, scheduler: str) -> None:
    """Refuse a scheduler with no worker to run the studies (the tasks would wait on it
    without end, and without a word)."""
    try:
        client.wait_for_workers(1, timeout=SCHEDULER_TIMEOUT_S)
    except TimeoutError:
        raise BadInputError(
            "--scheduler",
            f"{scheduler}: no Dask worker connected within {SCHEDULER_TIMEOUT_S:g} s: start "
            "workers for it (dask worker ADDRESS) or leave out --scheduler to run locally",
        ) from None


def _lost_scheduler(field: str, done: int, total: int) -> BadInputError:
    """The error that ends a run whose scheduler went away: nothing is written."""
    return BadInputError(
        field,
        f"the connection to the Dask scheduler was lost after {done} of {total} studies: "
        "no table written",
    )


def local_cluster(workers: int, *, processes: bool = True) -> Any:
    """A :class:`distributed.LocalCluster` of ``workers`` workers (processes, or threads), one
    thread each, without a dashboard, its scheduler's HTTP routes on a free port of the
    loopback (they are served even without a dashboard, on port 8787 by default, with a
    warning on stderr when another cluster holds it)."""
    import logging

    from distributed import LocalCluster

    return LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )


def _still_running(client: Any, field: str, idle_s: float, done: int, total: int) -> float:
    """After a wait with no study finished: the seconds the cluster has had no worker, and
    an error once they pass :data:`NO_WORKER_TIMEOUT_S` or the scheduler is gone."""
    if client.status != "running":
        raise _lost_scheduler(field, done, total)
    if client.scheduler_info().get("workers"):
        return 0.0
    idle_s += SCHEDULER_TIMEOUT_S
    if idle_s >= NO_WORKER_TIMEOUT_S:
        raise BadInputError(
            field,
            f"no Dask worker for {idle_s:g} s after {done} of {total} studies (the workers "
            "left or died): no table written",
        )
    return idle_s


def run_cohort(
    studies: Sequence[Path],
    options: Options,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    processes: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> CohortResult:
    """Run every study as one Dask task and gather the rows (in study order).

    ``scheduler``: the address of an existing scheduler (``tcp://host:8786``);
    without it a LocalCluster of ``workers`` worker processes (default: one per
    CPU, at most one per study), one thread each, no dashboard, is started and
    closed. ``progress(done, total)`` is called as studies finish.
    """
    from concurrent.futures import CancelledError

    from distributed import Client, wait
    from distributed.comm.core import CommClosedError

    if workers is not None and scheduler is not None:
        raise BadInputError(
            "--workers", "sets the local cluster's worker processes: not with --scheduler"
        )
    if workers is not None and workers < 1:
        raise BadInputError("--workers", f"{workers} must be at least 1")
    most = MAX_WORKERS_PER_CPU * (os.cpu_count() or 1)
    if workers is not None and scheduler is None and workers > most:
        raise BadInputError(
            "--workers",
            f"{workers} local worker processes on {os.cpu_count() or 1} CPUs: at most {most}",
        )
    total = len(studies)
    cluster = None
    if scheduler is None:
        # No more workers than studies: an idle worker process costs memory and start-up.
        count = min(workers, max(1, total)) if workers else max(1, min(total, os.cpu_count() or 1))
        cluster = local_cluster(count, processes=processes)
        client = Client(cluster)  # type: ignore[no-untyped-call]
        where = f"LocalCluster ({count} worker {'processes' if processes else 'threads'})"
    else:
        _probe_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as error:
            raise BadInputError("--scheduler", f"{scheduler}: cannot connect ({error})") from None
        where = f"scheduler {scheduler}"
    results: dict[int, tuple[bool, Any]] = {}
    field = "--scheduler" if scheduler else "--cohort"

    try:
        if scheduler is not None:
            _wait_for_workers(client, scheduler)
        # A key names a result on the scheduler: one of this run alone (another cohort on a
        # shared scheduler with the key "study-0" had been given this one's results), and
        # ASCII (a folder name is not always valid UTF-8, which Dask's messages cannot carry).
        run = uuid.uuid4().hex
        futures = {
            client.submit(run_one, str(path), options, pure=False, key=f"study-{i}-{run}"): i
            for i, path in enumerate(studies)
        }
        pending = set(futures)
        idle_s = 0.0
        while pending:
            try:
                finished, pending = wait(  # type: ignore[no-untyped-call]
                    pending, timeout=SCHEDULER_TIMEOUT_S, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:
                idle_s = _still_running(client, field, idle_s, len(results), total)
                continue
            except (CancelledError, CommClosedError, OSError):
                # The work was cancelled by no one here: the scheduler went away.
                raise _lost_scheduler(field, len(results), total) from None
            idle_s = 0.0
            for future in finished:
                index = futures[future]
                try:
                    results[index] = future.result()
                except Exception as error:  # a lost worker fails one study only
                    if client.status != "running" or isinstance(error, CancelledError):
                        raise _lost_scheduler(field, len(results), total) from None
                    results[index] = (False, f"task failed: {type(error).__name__}: {error}")
                if progress is not None:
                    progress(len(results), total)
    finally:
        client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()
    rows: list[dict[str, Any]] = []
    failures: list[StudyFailure] = []
    for index, path in enumerate(studies):
        ok, payload = results[index]
        if ok:
            rows.extend(payload)
        else:
            failures.append(StudyFailure(study_name(path), payload))
    return CohortResult(rows, failures, total, where)
