"""The sweep tests import docs/examples/lost_update.py as ``lost_update``.

It is put on ``sys.path`` for the whole session, before any worker process
or Dask cluster starts, so that those inherit it too.
"""

from __future__ import annotations

import sys

import pytest

from .helpers import EXAMPLES


@pytest.fixture(scope="session", autouse=True)
def _examples_on_path():
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))
