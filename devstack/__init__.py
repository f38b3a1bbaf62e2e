"""Local tooling for the payments backend: the local stack, the Stripe emulator, event builders, the demo.

Nothing here is deployed; the product is ``template.yaml``, ``functions/`` and ``layers/``.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
