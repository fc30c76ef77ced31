"""Progress of a run: a bar with an ETA on a terminal, one plain line per submission otherwise."""
import sys
import time


class Progress:
    def __init__(self, total, stream=None):
        self.total, self.done, self.stream = total, 0, stream or sys.stderr
        self.started = time.monotonic()
        self.tty = self.stream.isatty()

    def update(self, line):
        self.done += 1
        elapsed = time.monotonic() - self.started
        if not self.tty:
            print(f"[{self.done}/{self.total}] {line}", file=self.stream, flush=True)
            return
        eta = elapsed / self.done * (self.total - self.done)
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total}  {_clock(elapsed)} elapsed, ETA {_clock(eta)} ")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def _clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"
