"""The development figures on real photos do not regress (`../shared/ocr-real-dev`).

The photos are not in this repository: the test finds the shared folder beside the clone
and is skipped without it. Each photo is read once, as `bench.ocr --real` reads it.
"""

from __future__ import annotations

import pytest

from bench.ocr.real import figures, load_labels, read_folder, shared_folder

# Runs Tesseract and a process pool over every real photo: the e2e tier.
pytestmark = pytest.mark.e2e


DEV = shared_folder("ocr-real-dev")

# Measured when the pipeline was calibrated (ocr/README.md), with a little room for the
# last digit of a float on another CPU. A drop below these is a regression.
MIN_EXACT = {"drum": 58, "water/gas": 12, "all": 72}
MIN_ONE_TAP = {"drum": 52, "all": 64}


@pytest.mark.skipif(DEV is None, reason="../shared/ocr-real-dev is not beside this clone")
def test_development_photos_do_not_regress() -> None:
    assert DEV is not None
    numbers = figures(read_folder(DEV, load_labels(DEV)))
    for group, least in MIN_EXACT.items():
        assert numbers[group]["exact"] >= least, (group, numbers[group])
    for group, least in MIN_ONE_TAP.items():
        assert numbers[group]["one_tap"] >= least, (group, numbers[group])
    # The one figure that may never move: nothing wrong is offered for one tap.
    assert numbers["all"]["confident_wrong"] == 0, numbers
