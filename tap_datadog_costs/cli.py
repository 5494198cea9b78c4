"""The command line: the SDK's, inside one error boundary.

Whatever stops a run ends in exactly one ERROR line that says what went wrong and what to do,
and a non-zero exit status; the traceback is logged at DEBUG only (``LOGLEVEL=DEBUG``).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import logging
import os
import signal
import sys
from pathlib import Path

import click
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.metrics import METRICS_LOGGER_NAME, MetricExclusionFilter

from tap_datadog_costs import redaction
from tap_datadog_costs.errors import Interrupted
from tap_datadog_costs.tap import TapDatadogCosts

LOGGER = logging.getLogger("tap-datadog-costs")
#: Exit status of a run that stopped on an error.
FAILED = 1


#: The SDK's own lines around a failure, each a second line for one problem: the boundary below
#: (or, for settings, the SDK's line per setting) already says it. Matching the SDK's text is a
#: coupling listed in docs/architecture.md; tests/test_boundary.py fails if it changes.
SDK_ECHOES = (
    "An unhandled error occurred while syncing",
    "Config validation failed",
    "Skipping parse of env var settings",  # said on every call, news to nobody
    # With no bookmark it names start_date as one: each stream's plan line (progress.py) says
    # "first extract" or "incremental from the bookmark ..." instead.
    "Starting incremental sync of",
    # "Pagination stopped after 0 pages because no records were found": an answer with no
    # rows, which the stream's summary counts (0 rows) and, for projected cost, says why.
    "Pagination stopped after",
)


#: The SDK's metrics logged once per request; shown with LOGLEVEL=DEBUG only.
PER_REQUEST_METRICS = ("http_request_count", "http_request_duration")


class _QuietEchoes(logging.Filter):
    """Drops the SDK_ECHOES lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(SDK_ECHOES)


def quiet_logs() -> None:
    """Drop the SDK's echoes, and its METRIC line per request unless LOGLEVEL is DEBUG.

    A METRIC line per request would bury the progress lines, which count requests already.
    """
    for handler in logging.getLogger().handlers:  # stream loggers' records reach these
        handler.addFilter(_QuietEchoes())
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        logging.getLogger(METRICS_LOGGER_NAME).addFilter(
            MetricExclusionFilter(metrics=list(PER_REQUEST_METRICS))
        )


def quiet_stdout() -> None:
    """Point stdout at /dev/null: the reader is gone, and Python's last flush must not fail."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


#: The options whose value is a JSON file (``--config ENV`` reads the environment instead).
JSON_FILE_OPTIONS = ("--config", "--catalog")


def unreadable_json_argument(arguments: list[str]) -> str | None:
    """One line naming a --config or --catalog file that is missing or not JSON, or None.

    The SDK would print the parser's words (or a traceback) without the file's name.
    """
    for option, value in itertools.pairwise(arguments):
        if option not in JSON_FILE_OPTIONS or value == "ENV":
            continue
        path = Path(value)
        if not path.is_file():
            return f"The {option[2:]} file {value} does not exist"
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            where = (
                f"line {error.lineno}, column {error.colno}: {error.msg}"
                if isinstance(error, json.JSONDecodeError)
                else "not UTF-8 text"
            )
            return f"The {option[2:]} file {value} is not JSON ({where}): fix it and run again"
    return None


def main() -> None:
    """Run the tap's command line; turn anything that stops it into one line and a status."""
    # What start-up imported lives as long as the process: the garbage collector need not walk
    # it again, in a full collection or the one at exit (docs/benchmarks.md).
    gc.freeze()
    problem = unreadable_json_argument(sys.argv[1:])
    if problem:
        logging.basicConfig(format="%(asctime)s | %(levelname)-8s | %(name)s | %(message)s")
        LOGGER.error("%s", problem)
        sys.exit(FAILED)
    command = TapDatadogCosts.cli  # sets up the SDK's console logging
    quiet_logs()
    redaction.install()
    try:
        status = command.main(prog_name="tap-datadog-costs", standalone_mode=False)
    except Interrupted as stop:
        LOGGER.error(  # noqa: TRY400 - the message is the whole story
            "Stopped by %s before the sync finished: every STATE written so far is safe to "
            "resume from; run again to go on",
            signal.Signals(stop.signum).name,
        )
        sys.exit(128 + stop.signum)
    except BrokenPipeError:  # click handles most of these itself, the same way: quietly
        quiet_stdout()
        LOGGER.info("The reader of stdout (the target) closed it: stopping")
        sys.exit(FAILED)
    except ConfigValidationError as exc:  # raised where the SDK does not catch it (--test)
        for error in exc.errors:
            LOGGER.error("%s", error)  # noqa: TRY400 - one line per setting is the whole story
        sys.exit(FAILED)
    except click.ClickException as exc:  # a usage error: click's own message
        exc.show()
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        LOGGER.error("Stopped by SIGINT before the sync finished")  # noqa: TRY400
        sys.exit(128 + signal.SIGINT)
    except Exception as exc:
        LOGGER.debug("Traceback of the error below", exc_info=True)
        LOGGER.error("%s", exc or type(exc).__name__)  # noqa: TRY400
        sys.exit(FAILED)
    sys.exit(status if isinstance(status, int) else 0)
