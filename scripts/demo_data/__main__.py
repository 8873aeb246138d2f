"""``python -m scripts.demo_data SOURCE [arguments]``: the generator's command line (``cli.py``)."""

import sys

from .cli import main

sys.exit(main())
