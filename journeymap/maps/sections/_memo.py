"""One computation per :class:`~journeymap.maps.inputs.MapInputs`: the sections share their intermediate parts."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def memo(func: Callable[[Any], T]) -> Callable[[Any], T]:
    """``func(inputs)`` computed once per inputs object (kept while the inputs live).

    The sections are pure functions of frozen inputs, so a part several sections read (the grid, the
    pain points) is the same object for all of them; composing the document does each part once.
    """
    cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @functools.wraps(func)
    def wrapper(inputs: Any) -> T:
        try:
            return cache[inputs]
        except KeyError:
            value = cache[inputs] = func(inputs)
            return value

    return wrapper
