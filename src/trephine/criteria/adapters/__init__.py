"""The case-format adapters, one module per disease; importing this package registers them all
in :data:`trephine.criteria.registry.REGISTRY`, in this order (the order ``criteria list``
shows)."""

# isort: off
from trephine.criteria.adapters import aml  # noqa: F401
from trephine.criteria.adapters import myeloma  # noqa: F401
from trephine.criteria.adapters import mds  # noqa: F401
from trephine.criteria.adapters import cll  # noqa: F401
from trephine.criteria.adapters import lymphoblastic  # noqa: F401
from trephine.criteria.adapters import diagnostics  # noqa: F401
from trephine.criteria.adapters import stored_calls  # noqa: F401
# isort: on
