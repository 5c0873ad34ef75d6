"""The errors a user can fix, and how every command reports them.

A ``QawlError`` message names the file (and line, where one is known) and says what was
expected. Commands run under :func:`reported`, which turns one, or Hydra's
``InstantiationException`` around one, into ``error: MESSAGE`` on stderr and exit code 2, so
the user never reads a traceback for a mistake of theirs.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

USAGE = 2  # the exit code of a mistake the user can fix (argparse's too)
FAILED_CHECKS = 1  # validate and build: the checks ran and some failed

T = TypeVar("T")


class QawlError(Exception):
    """Something the user can fix; the message says where and what was expected."""


class InputError(QawlError):
    """An input file (an article, a table of statements) that cannot be read."""


class ModelError(QawlError):
    """A model or run folder that cannot be used."""


class ExportError(QawlError):
    """A run that cannot be exported as asked."""


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def user_error(err: BaseException) -> QawlError | None:
    """``err`` itself, or the QawlError that Hydra's instantiate() wrapped, else None. A
    config value left out (``???``), a key the config has not, or a value of the wrong type
    is the user's too: it comes back as a one-line QawlError that names the key."""
    while err is not None:
        if isinstance(err, QawlError):
            return err
        found = _config_error(err)
        if found is not None:
            return found
        if type(err).__name__ != "InstantiationException":
            return None
        err = err.__cause__
    return None


def _config_error(err: BaseException) -> QawlError | None:
    # Imported here: a command that never composed a config need not load omegaconf.
    from omegaconf.errors import ConfigKeyError, MissingMandatoryValue, ValidationError

    if isinstance(err, MissingMandatoryValue):
        return QawlError(f"{err.full_key}: no value given (expected {err.full_key}=VALUE on "
                         "the command line)")
    if isinstance(err, ConfigKeyError | ValidationError):
        # omegaconf's message goes on with lines of its own about the node.
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return QawlError(f"{err.full_key}: {first}" if err.full_key else first)
    return None


def reported(main: Callable[..., T] | None = None, *, exits: bool = False):
    """``main`` with a QawlError (bare or inside InstantiationException) reported as
    ``error: ...``; the call then returns 2, or exits with 2 when ``exits`` (Hydra drops a
    task function's return value). Anything else still raises: it is a bug."""
    if main is None:
        return functools.partial(reported, exits=exits)

    @functools.wraps(main)
    def run(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except Exception as err:
            found = user_error(err)
            if found is None:
                raise
            error(str(found))
            if exits:
                sys.exit(USAGE)
            return USAGE

    return run
