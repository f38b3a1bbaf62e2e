"""``python -m devstack.stripe_emulator --port 8420 [--host H] [--parent-pid PID]``: see ``server.main``."""

from devstack.stripe_emulator.server import main

main()
