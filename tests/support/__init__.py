"""Helpers the test folders share, one module per job (conftest.py files keep only fixtures):

* ``backends``: THE list of store backends, and making and opening a store of each;
* ``cli``: running sessmap (the installed command, or the app in-process) and reading its output;
* ``memory_store``: a Store in this process's memory, one more backend of the contract suites;
* ``servers``, ``private_servers``: the PostgreSQL and Redis servers (shared, or a test's own);
* ``hostnames``: commands under host names of their own (UTS namespaces), for simulated hosts;
* ``mappings``: fixed moments and valid mappings; ``files``: file hashes; ``sizes``: property-
  test sizes; ``skips``: skipping (failing under CI) when a prerequisite is missing.

The names most tests need are importable from here too.
"""

from tests.support.cli import SESSMAP
from tests.support.files import sha256
from tests.support.hostnames import SET_HOSTNAME, require_host_names, uts_problem
from tests.support.sizes import examples
from tests.support.skips import unavailable

__all__ = [
    "SESSMAP",
    "SET_HOSTNAME",
    "examples",
    "require_host_names",
    "sha256",
    "unavailable",
    "uts_problem",
]
