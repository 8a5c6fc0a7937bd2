"""Where the tests' real data files live: ``tests/data``, vendored with the repository.

The one place that knows the location (fixtures ``real_data``, ``mrd_tube``, ``mrd_gating_ml``
in ``tests/conftest.py`` use it; modules that parametrize at collection time import ``DATA``).
``tests/data/MANIFEST.md`` gives each file's origin, licence and SHA-256; ``../shared`` is only
consulted to check that the copies still equal their origins (``tests/test_data_manifest.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT / "tests" / "data"
#: The project's shared material beside the repository, when there is one (CI, developers).
SHARED = Path(os.environ.get("TREPHINE_SHARED", REPO_ROOT.parent / "shared"))
