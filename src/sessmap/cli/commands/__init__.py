"""The commands, one module per group.

``<group>.py`` is Typer-free: an argument record per command and ``run_<command>(ctx, args)``,
which calls the core and renders. The fast path (cli/fast.py) calls ``run_get`` and
``run_exec`` directly. ``<group>_typer.py`` declares the Typer commands: each parses (its
options come from cli/spec.py) and calls its ``run_<command>``.
"""
