"""How far a reader has got, for the analysis to show while the file is parsed (rule I5).

The parser runs in a child process; the worker hands it a shared counter and reads it while it waits.
Without a counter (tests, benchmarks calling the readers directly) reporting costs nothing.
"""

from typing import Any

# Rows between two reports: cheap enough per row, often enough for a person watching.
EVERY = 4096
_counter: Any = None


def attach(counter: Any) -> None:
    global _counter
    _counter = counter


def rows_read(count: int) -> None:
    if _counter is not None:
        _counter.value = count
