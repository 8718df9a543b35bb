"""``python -m captum_contrastive``: the ``captum-contrastive`` command."""

import sys

from captum_contrastive.cli import main

sys.exit(main())
