"""The exceptions journeymap raises.

Every error has one root, :class:`JourneymapError`; each subclass also inherits
the builtin it refines, so ``except ValueError`` keeps working for callers who
do not know journeymap. Messages are one sentence: the bad value, the argument
or column it came from, and the fix.

Examples
--------
>>> try:
...     raise InputError("Column 'cookie' is not in events.csv; it has: id, time. Fix the --map flag.")
... except ValueError as e:
...     print(type(e).__name__)
InputError
"""

from __future__ import annotations


class JourneymapError(Exception):
    """Root of every journeymap error."""


class InputError(ValueError, JourneymapError):
    """A value given by the user (file, flag, argument) cannot be used."""


class MappingError(InputError):
    """A column mapping names a column the source lacks, or lacks a required one."""


class BlueprintError(InputError):
    """``blueprint.yaml`` is invalid; the message names the line and the fix."""


class WorkspaceError(JourneymapError, FileNotFoundError):
    """No workspace where one was expected, or a workspace that cannot be opened."""


class EngineError(RuntimeError, JourneymapError):
    """The warehouse engine failed or is not reachable."""


class MissingDependencyError(ImportError, JourneymapError):
    """An optional extra is needed; the message says which ``pip install`` fixes it."""


class NotFittedError(AttributeError, JourneymapError):
    """An estimator was used before ``fit()``."""


def missing_extra(package: str, extra: str, what: str) -> MissingDependencyError:
    """Build the error for an optional dependency that is not installed.

    >>> str(missing_extra("pyspark", "spark", "Engine 'spark'"))
    "Engine 'spark' needs pyspark, which is not installed. Install it with: pip install 'journeymap[spark]'"
    """
    return MissingDependencyError(
        f"{what} needs {package}, which is not installed. Install it with: pip install 'journeymap[{extra}]'"
    )
