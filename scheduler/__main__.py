"""`python -m scheduler run`: the scheduler process (`byte scheduler run` does the same after migrating)."""
import signal
import sys

# Until the process installs its own handlers (after imports and connecting), Ctrl-C or SIGTERM ends it
# quietly: a KeyboardInterrupt traceback from the middle of an import helps nobody.
for _signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(_signum, lambda signum, _frame: sys.exit(128 + signum))

from scheduler.process import main  # noqa: E402

main()
