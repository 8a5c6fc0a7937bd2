"""The gating view of an FCS file equals the reader's scaled() view, column by column."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from trephine.analysis.flow.strategy import FcsEvents
from trephine.io.fcs import read_fcs

FILES = [
    "gatingml2_compliance/data1.fcs",  # $PnE log channels, $PnG gain on FSC, 16-bit big endian
    "fcs/flowkit/100715.fcs",  # $TIMESTEP 0.08, SPILL
    "fcs/flowio/B01_KC-A-W---91-US.fcs",  # 32-bit int with $SPILLOVER
]


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", FILES)
def test_columns_equal_scaled_view(real_data: Path, rel: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = read_fcs(real_data / "flow" / rel)
    ev = FcsEvents(f)
    scaled = f.scaled()
    names = f.channel_names
    idx = np.arange(0, f.event_count, 7)
    for j, name in enumerate(names):
        if names.count(name) > 1:
            continue
        assert np.array_equal(ev.column(name, None), scaled[:, j]), name
        assert np.array_equal(ev.column(name, idx), scaled[idx, j]), name
    block = ev.columns(names[:3], slice(10, 50))
    assert np.array_equal(block, scaled[10:50, :3])
    spill = ev.spillover()
    if f.spillover is None:
        assert spill is None
    else:
        assert spill is not None and list(spill[0]) == list(f.spillover.channels)
