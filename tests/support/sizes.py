"""Property-test sizes that follow the Hypothesis profile (``ci`` or ``dev``, tests/conftest.py)."""

from __future__ import annotations


def examples(thorough: int) -> int:
    """``max_examples`` for a property test sized ``thorough`` under the ``ci`` profile (100
    examples by default): scaled with the loaded profile, so ``dev`` runs about a tenth."""
    from hypothesis import settings

    return max(2, round(thorough * settings.default.max_examples / 100))
