"""Spark plumbing for the spark engine: Java check, session, Arrow → Spark schemas.

Nothing here knows about detection; :mod:`skyscan.engines.spark.job` builds the job.
PySpark is imported inside functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from skyscan.errors import MissingDependencyError, require

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

logger = logging.getLogger(__name__)

MIN_JAVA = 17  # PySpark 4 runs on Java 17 or 21
JAVA_INSTALL_HINT = (
    "install a Java 17+ runtime (Debian/Ubuntu: 'apt-get install openjdk-17-jre-headless'; "
    "macOS: 'brew install openjdk@17') or point JAVA_HOME at one"
)

# Settings skyscan relies on; a user's own --conf values win (see :func:`spark_session`).
DEFAULT_CONF: dict[str, str] = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Progress bars on stderr would interleave with the CLI's own output.
    "spark.ui.showConsoleProgress": "false",
    # Python workers are reused across tasks, so a detector is built once per worker.
    "spark.python.worker.reuse": "true",
}

# Added for local masters only (the driver is the executor). Spark generates new classes
# for every query and the JVM's optimising compiler (C2) re-compiles them on each job, on
# the cores the model needs; in a local session the JVM only orchestrates, so the quick
# compiler (C1) alone is enough (figures: docs/performance.md, Spark).
LOCAL_CONF: dict[str, str] = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1"}


def java_executable() -> str | None:
    """The ``java`` that spark-submit will run: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


@lru_cache(maxsize=4)
def java_major_version(java: str) -> int | None:
    """Major version reported by ``java -version`` (8 for ``1.8.0_x``), or None if unparseable."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> str:
    """Return the java executable, or raise :class:`MissingDependencyError` saying what to install."""
    java = java_executable()
    if java is None:
        where = (
            f"JAVA_HOME={os.environ['JAVA_HOME']!r} has no bin/java"
            if os.environ.get("JAVA_HOME")
            else "no 'java' on PATH"
        )
        raise MissingDependencyError(
            f"the spark engine needs Java {MIN_JAVA}+ ({where}); {JAVA_INSTALL_HINT}"
        )
    major = java_major_version(java)
    if major is not None and major < MIN_JAVA:
        raise MissingDependencyError(
            f"the spark engine needs Java {MIN_JAVA}+ (got Java {major} at {java}); {JAVA_INSTALL_HINT}"
        )
    return java


def is_local_master(master: str | None) -> bool:
    """``local``, ``local[N]``, ``local[*]``, ``local[N,F]`` (or no master: Spark's default)."""
    return master is None or master == "local" or master.startswith("local[")


def spark_session(
    master: str | None = None,
    *,
    app_name: str = "skyscan",
    conf: Mapping[str, str] | None = None,
    python: str | None = None,
) -> SparkSession:
    """Start (or join) a SparkSession for skyscan, after checking Java.

    ``master`` is any Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``,
    ``k8s://...``); None keeps whatever ``spark-submit`` or ``SPARK_MASTER`` says, else
    ``local[*]``. ``conf`` adds Spark settings (they override :data:`DEFAULT_CONF` and,
    on a local master, :data:`LOCAL_CONF`).
    ``python`` is the interpreter executors run (``PYSPARK_PYTHON``); on a local master it
    defaults to this interpreter, because the executors are this machine's processes.
    """
    check_java()
    require("pyspark", "spark")
    from pyspark.sql import SparkSession

    if python is not None:
        os.environ["PYSPARK_PYTHON"] = python  # read by SparkContext when it starts
    elif "PYSPARK_PYTHON" not in os.environ and is_local_master(master):
        # Without this, local executors run plain 'python3', which lacks skyscan's venv.
        os.environ["PYSPARK_PYTHON"] = sys.executable
    builder: SparkSession.Builder = SparkSession.builder.appName(app_name)
    if (
        master is None
        and not os.environ.get("SPARK_MASTER")
        and "pyspark-shell" not in os.environ.get("PYSPARK_SUBMIT_ARGS", "")
    ):
        master = "local[*]"
    if master is not None:
        builder = builder.master(master)
    for key, value in session_conf(master, conf).items():
        builder = builder.config(key, value)
    with _jvm_output_off_the_terminal():
        session: SparkSession = builder.getOrCreate()
    logger.info(
        "spark session: master=%s, version=%s", session.sparkContext.master, session.version
    )
    return session


@contextlib.contextmanager
def _jvm_output_off_the_terminal() -> Iterator[None]:
    """Under ``-q`` (the root logger above WARNING), a JVM launched here writes its own
    output (startup notes, log4j lines, a lost executor's Java stack traces) to a file, not
    to the terminal where ``-q`` promises errors only; Spark's errors reach skyscan as
    Python exceptions all the same. The JVM inherits fd 2 at launch, so fd 2 points at
    the file while the session starts."""
    if logging.getLogger().getEffectiveLevel() <= logging.WARNING:
        yield
        return
    log = Path(tempfile.gettempdir()) / f"skyscan-spark-{os.getpid()}.log"
    with open(log, "ab") as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    logger.info("the Spark JVM writes its output to %s", log)


def session_conf(master: str | None, conf: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings a new session gets: :data:`DEFAULT_CONF`, :data:`LOCAL_CONF` when
    ``master`` is a local one, then the user's ``conf``, which wins.

    The driver JVM starts once per Python process, so JVM options apply only to the
    first session a process starts.
    """
    local = master is not None and is_local_master(master)
    return {**DEFAULT_CONF, **(LOCAL_CONF if local else {}), **dict(conf or {})}


def joined_or_new_session(master: str | None) -> tuple[SparkSession, bool]:
    """The active session if there is one, else a new one on ``master``; and whether it is new.

    The caller stops only a session it started, never one its user (or a notebook) owns.
    """
    check_java()
    require("pyspark", "spark")
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        if master is not None and active.sparkContext.master != master:
            logger.warning(
                "using the active Spark session (master %s), not %s",
                active.sparkContext.master,
                master,
            )
        return active, False
    return spark_session(master), True


def task_cpus(spark: SparkSession) -> int:
    """CPUs Spark reserves per task (``spark.task.cpus``, default 1)."""
    return int(spark.conf.get("spark.task.cpus", "1") or "1")


def to_spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema, every field nullable.

    Arrow's non-null flags are not trusted on the way back (Spark would treat a violating
    null as undefined behaviour); the contract is checked on the Arrow side instead.
    """
    from pyspark.sql.pandas.types import from_arrow_schema
    from pyspark.sql.types import StructField, StructType

    plain = pa.schema([pa.field(f.name, f.type, nullable=True) for f in schema])
    converted = from_arrow_schema(plain, prefer_timestamp_ntz=True)
    return StructType([StructField(f.name, f.dataType, nullable=True) for f in converted.fields])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in order and types (missing ones null)."""
    arrays = []
    for f in schema:
        if f.name in table.column_names:
            arrays.append(table.column(f.name).cast(f.type))
        else:
            arrays.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(
        arrays, schema=pa.schema([pa.field(f.name, f.type) for f in schema])
    )
