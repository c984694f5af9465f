import gc
import sys

# One command, one process: the cyclic collector would only walk, again and
# again, the objects the imports just made (~0.8 ms of a `run`); the
# commands' loops (attached output, logs -f, stats) make no cycles to collect.
gc.disable()

from runtime.cli import main  # noqa: E402

sys.exit(main())
