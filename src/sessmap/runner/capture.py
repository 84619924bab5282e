"""Learning the id of a session the agent CLI picks itself (codex), while it runs: from its
output as it passes, or from the session file its own processes hold open; recorded the moment
it is seen, so a sessmap killed mid-turn keeps it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessmap.providers import AgentOutput, Step

if TYPE_CHECKING:
    from sessmap.runner.run import Run

# An id in the output comes first (codex's thread.started): look for it live only this far.
_LIVE_SCAN = 64 << 10


class Capture:
    """Learns the id of a session the CLI picks, from its output as it passes or from the
    session file its processes hold open, and records it at once."""

    def __init__(self, run: Run, step: Step) -> None:
        self.run = run
        self.step = step
        self.found: str | None = None
        self.open_ids: set[str] = set()
        self.watch_files = run.provider.opens_session_file

    def output(self, stdout_head: bytes, stderr_head: bytes) -> None:
        if self.found is not None or len(stdout_head) + len(stderr_head) > _LIVE_SCAN:
            return
        found = self.run.provider.captured_id(AgentOutput(stdout_head, stderr_head))
        if found is not None:
            self.take(found)

    def tick(self, pid: int) -> None:
        if self.found is not None or not self.watch_files:
            return
        from sessmap.runner.proctree import open_files

        others = {self.step.parent_id, self.step.session_id}
        for path in open_files(pid):
            session_id = self.run.provider.session_file_id(path)
            if session_id is not None and session_id not in others:
                self.open_ids.add(session_id)
        if len(self.open_ids) == 1:
            self.take(next(iter(self.open_ids)))

    def take(self, session_id: str) -> None:
        self.found = session_id
        self.run.record_id(self.step, session_id)

    def session_id(self, output: AgentOutput) -> str | None:
        """After the run: what was seen, else what the whole output tells."""
        if self.found is not None:
            return self.found
        if len(self.open_ids) > 1:
            self.run.notify(
                f"the run held several {self.run.provider.name} sessions open "
                f"({', '.join(sorted(self.open_ids))}); none is recorded"
            )
        return self.run.provider.captured_id(output)
