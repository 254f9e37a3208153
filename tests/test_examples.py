"""The documentation's examples run, and print what they promise."""

import re
import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "docs" / "examples").glob("*.py"))


def test_examples_are_found():
    assert EXAMPLES, "docs/examples holds no example"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, capsys):
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert out.strip(), f"{path.name} printed nothing"
    if path.stem == "outlier_detection_breastw":
        auc = {name: float(v) for name, v in re.findall(r"^(\w+)\s+([01]\.\d{3})", out, re.M)}
        assert set(auc) == {"EBMOutlierDetector", "IsolationForest"}
        assert auc["EBMOutlierDetector"] > 0.9
        assert "Most unusual test rows" in out
