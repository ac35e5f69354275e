"""Import jobs: checking an uploaded file (the preview) and booking it (the apply).

A million-row file takes longer than a request should, so both run on the task queue
(`keel.income.tasks`) and report their progress to the shared cache under the batch's key,
where the import page polls it. A job never raises: whatever stops it is written to its
state as one line naming the row or field. While it runs, a heartbeat renews its state
every few seconds, however long a step takes; a job that dies without a word (its task
runner killed mid-file) is known by its silence: a running state not renewed for
`STALE_SECONDS` counts as failed, so the page never waits on a dead job.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache

from . import services
from .importers import ImportFormatError
from .models import ImportBatch, ImportStatus

logger = logging.getLogger(__name__)

# How long a job's state stays readable.
PROGRESS_TTL = 24 * 3600
# A running job's heartbeat renews its state this often; several beats missed in a row
# mean its process died.
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 60
# Queued longer than this, the page asks whether a task runner is running at all.
SLOW_START_SECONDS = 15


class Job(enum.StrEnum):
    PREVIEW = "preview"
    APPLY = "apply"


class Stage(enum.StrEnum):
    QUEUED = "queued"
    PARSE = "parse"  # reading rows: done = rows read so far
    CHECK = "check"  # validating rows and looking for ones booked before: done of total
    POST = "post"  # posting journals: done of total
    DONE = "done"
    REFUSED = "refused"  # the apply found rows it cannot book; nothing was booked
    FAILED = "failed"


RUNNING_STAGES = frozenset({Stage.QUEUED, Stage.PARSE, Stage.CHECK, Stage.POST})


@dataclass(frozen=True, slots=True)
class JobState:
    """What a batch's job last wrote to the shared cache."""

    job: str
    stage: str
    done: int
    total: int
    error: str
    at: float

    @property
    def stale(self) -> bool:
        """Silent too long while working: the job died (a queued job waits, it is not dead)."""
        return (
            self.stage in RUNNING_STAGES
            and self.stage != Stage.QUEUED
            and time.time() - self.at > STALE_SECONDS
        )

    @property
    def running(self) -> bool:
        return self.stage in RUNNING_STAGES and not self.stale

    @property
    def failed(self) -> bool:
        return self.stage == Stage.FAILED or self.stale

    @property
    def waiting_long(self) -> bool:
        return self.stage == Stage.QUEUED and time.time() - self.at > SLOW_START_SECONDS

    @property
    def percent(self) -> int | None:
        """Share of the journals posted; None before posting (how long reading and checking
        take is not known ahead)."""
        if self.stage != Stage.POST or self.total <= 0:
            return None
        return min(100, self.done * 100 // self.total)


def progress_key(batch_id: int) -> str:
    return f"income-import-progress-{batch_id}"


def read_state(batch_id: int) -> JobState | None:
    raw = cache.get(progress_key(batch_id))
    if not isinstance(raw, dict):
        return None
    return JobState(
        job=str(raw.get("job", "")),
        stage=str(raw.get("stage", "")),
        done=int(raw.get("done", 0)),
        total=int(raw.get("total", 0)),
        error=str(raw.get("error", "")),
        at=float(raw.get("at", 0)),
    )


def write_state(
    batch_id: int, job: Job, stage: Stage, done: int = 0, total: int = 0, error: str = ""
) -> None:
    cache.set(
        progress_key(batch_id),
        {
            "job": job.value,
            "stage": stage.value,
            "done": done,
            "total": total,
            "error": error,
            "at": time.time(),
        },
        PROGRESS_TTL,
    )


@contextmanager
def _reporting(batch_id: int, job: Job) -> Iterator[services.Progress]:
    """A progress callback for the services, and a heartbeat that rewrites the latest state
    while a step reports nothing (a big commit, another domain's work on the import)."""
    # Picked up: the page stops saying "waiting" at once, before the first rows are read.
    latest: tuple[Stage, int, int] = (Stage.PARSE, 0, 0)
    write_state(batch_id, job, *latest)
    stop = threading.Event()

    def report(stage: str, done: int, total: int) -> None:
        nonlocal latest
        latest = (Stage(stage), done, total)
        write_state(batch_id, job, *latest)

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                write_state(batch_id, job, *latest)
            except Exception:
                logger.exception("import %s: heartbeat could not be written", batch_id)

    heart = threading.Thread(target=beat, name=f"import-{batch_id}-heartbeat", daemon=True)
    heart.start()
    try:
        yield report
    finally:
        # Stopped before the job's last word is written, so no beat can overwrite it.
        stop.set()
        heart.join()


def describe_failure(exc: BaseException, fmt: str = "") -> str:
    """One line for the page: what stopped the job, naming the line or field it can."""
    if isinstance(exc, ImportFormatError):
        return services.format_error_message(exc, fmt)
    if isinstance(exc, services.IncomeError):
        # A booking error names its row already ("line 7: ..."); others name their field.
        text = str(exc)
        if exc.field and not text.startswith("line "):
            return f"{exc.field}: {text}"
        return text
    lines = str(exc).strip().splitlines()
    detail = lines[0] if lines else ""
    return f"unexpected {type(exc).__name__}{': ' + detail if detail else ''}"


def run_preview(batch_id: int) -> None:
    """Read and check a received upload (the task `preview_import` runs this)."""
    fmt = ""
    try:
        batch = ImportBatch.objects.select_related("worker", "source", "profile").get(pk=batch_id)
        fmt = batch.format
        with _reporting(batch_id, Job.PREVIEW) as report:
            summary = services.preview_batch(batch, progress=report)
    except Exception as exc:
        _fail(batch_id, Job.PREVIEW, exc, fmt)
        return
    write_state(batch_id, Job.PREVIEW, Stage.DONE, summary.rows_read, summary.rows_read)


def run_apply(batch_id: int) -> None:
    """Book a previewed upload, all or nothing (the task `apply_import` runs this)."""
    fmt = ""
    try:
        batch = ImportBatch.objects.select_related("worker", "source", "profile").get(pk=batch_id)
        fmt = batch.format
        if batch.status == ImportStatus.APPLIED:
            # Applied by an earlier run of this job: the same outcome, nothing to do.
            write_state(batch_id, Job.APPLY, Stage.DONE)
            return
        with _reporting(batch_id, Job.APPLY) as report:
            summary = services.apply_batch(batch, progress=report)
    except Exception as exc:
        _fail(batch_id, Job.APPLY, exc, fmt)
        return
    stage = Stage.DONE if summary.applied else Stage.REFUSED
    write_state(batch_id, Job.APPLY, stage, summary.imported, summary.imported)


def _fail(batch_id: int, job: Job, exc: Exception, fmt: str) -> None:
    message = describe_failure(exc, fmt)
    if isinstance(exc, ImportFormatError | services.IncomeError):
        logger.info("import %s: %s job refused: %s", batch_id, job, message)
    else:
        logger.exception("import %s: %s job failed", batch_id, job)
    # Each record is tried on its own: whatever broke (the database, the cache) must not
    # keep the other from telling the page the job is over.
    try:
        write_state(batch_id, job, Stage.FAILED, error=message)
    except Exception:
        logger.exception("import %s: the failure could not be written to the cache", batch_id)
    if job == Job.PREVIEW:
        try:
            services.fail_batch(batch_id, message)
        except Exception:
            logger.exception("import %s: the batch could not be marked failed", batch_id)
