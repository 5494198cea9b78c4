"""The command line: the SDK's, inside one error boundary.

Whatever stops a run ends in exactly one ERROR line that says what went wrong and what to do,
and a non-zero exit status; the traceback is logged at DEBUG only (``LOGLEVEL=DEBUG``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys

import click

from tap_datadog_costs import redaction
from tap_datadog_costs.errors import Interrupted
from tap_datadog_costs.tap import TapDatadogCosts

LOGGER = logging.getLogger("tap-datadog-costs")
#: Exit status of a run that stopped on an error.
FAILED = 1


#: The SDK's own lines around a failure, each a second line for one problem: the boundary below
#: (or, for settings, the SDK's line per setting) already says it. Matching the SDK's text is a
#: coupling listed in docs/architecture.md; tests/test_boundary.py fails if it changes.
SDK_ECHOES = ("An unhandled error occurred while syncing", "Config validation failed")


class _QuietEchoes(logging.Filter):
    """Drops the SDK_ECHOES lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(SDK_ECHOES)


def quiet_stdout() -> None:
    """Point stdout at /dev/null: the reader is gone, and Python's last flush must not fail."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main() -> None:
    """Run the tap's command line; turn anything that stops it into one line and a status."""
    command = TapDatadogCosts.cli  # sets up the SDK's console logging
    for handler in logging.getLogger().handlers:  # stream loggers' records reach these
        handler.addFilter(_QuietEchoes())
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
