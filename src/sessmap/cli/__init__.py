"""The command line. ``main`` is the console entry point.

Kept free of Typer at import time: the plain forms of the hot commands (``get``, ``exec``) are
answered by ``sessmap.cli.fast`` without loading the full app; every other command line goes
to the Typer app in ``sessmap.cli.app``.
"""

from __future__ import annotations


def main() -> None:
    import sys

    from sessmap.cli.stdio import refuse_closed_output

    refused = refuse_closed_output(sys.argv[1:])  # before anything is opened
    if refused is not None:
        sys.exit(refused)
    from sessmap.cli.fast import run as run_fast

    code = run_fast(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from sessmap.cli.app import run

    run()
