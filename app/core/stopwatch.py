"""Durations of a job's steps, for its log line and the benchmarks."""

import time


class Stopwatch:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._since = time.perf_counter()

    def lap(self, name: str) -> None:
        """Record the seconds since the previous lap (or the start) under `name`."""
        now = time.perf_counter()
        self.laps[name], self._since = round(now - self._since, 3), now
