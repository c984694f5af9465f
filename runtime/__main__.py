import gc
import os
import sys

# One command, one process: the cyclic collector would only walk, again and
# again, the objects the imports just made (~0.8 ms of a `run`); the
# commands' loops (attached output, logs -f, stats) make no cycles to collect.
gc.disable()

from runtime.cli import main  # noqa: E402

code = main()
# Leave without the interpreter's teardown, which frees every object of every
# imported module one by one (~4 ms of a `run`): only our output is left to
# flush, and no command leaves a thread or an atexit hook behind that matters.
try:
    sys.stdout.flush()
    sys.stderr.flush()
except OSError:
    # A closed pipe: the normal exit reports it as it always has.
    sys.exit(code)
os._exit(code)
