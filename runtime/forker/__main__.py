"""`python -m runtime.forker`: run a forker (see runtime.forker.server)."""

import sys

from runtime.forker.server import main

main(sys.argv[1:])
