"""The examples in journeymap.attribution's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import journeymap.attribution

MODULES = sorted(m.name for m in pkgutil.iter_modules(journeymap.attribution.__path__, "journeymap.attribution."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
