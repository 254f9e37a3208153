"""The documentation's examples run, and print what they promise."""

import math
import re
import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "docs" / "examples").glob("*.py"))


@pytest.fixture(autouse=True)
def _headless_matplotlib():
    # Examples end with plt.show(); draw off-screen and close what they open.
    try:
        import matplotlib
    except ImportError:
        yield
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_examples_are_found():
    assert EXAMPLES, "docs/examples holds no example"


@pytest.mark.filterwarnings("ignore:FigureCanvasAgg is non-interactive:UserWarning")
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, capsys):
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert out.strip(), f"{path.name} printed nothing"
    if path.stem == "plot_outlier_detection_breastw":
        auc = {name: float(v) for name, v in re.findall(r"^(\w+)\s+([01]\.\d{3})", out, re.M)}
        assert set(auc) == {"EBMOutlierDetector", "IsolationForest"}
        assert auc["EBMOutlierDetector"] > 0.9
        assert "Most unusual test rows" in out
    if path.stem == "plot_density_moons":
        scores = dict(re.findall(r"^  (\S+)\s+(-?\d+\.\d{3})$", out, re.M))
        assert set(scores) >= {"EnergyBasedModel", "GaussianMixture(8)"}
        assert all(math.isfinite(float(v)) for v in scores.values())
        assert "log Z = " in out
    if path.stem == "plot_grid_search_outlier_scorer":
        rows = re.findall(r"^\s*\(.*?\)\s+\d+\.\d+\s+(\d\.\d{3})\s+\d\.\d{3}\s+\d\.\d{3}\s+(\d\.\d{3})$", out, re.M)
        assert len(rows) == 4, out
        # scoring="roc_auc" on labels with 1 = outlier reports 1 - ROC-AUC.
        assert all(abs(float(ours) + float(theirs) - 1.0) <= 0.0015 for ours, theirs in rows)
        held_out = float(re.search(r"Held-out ROC-AUC of the chosen detector: (\d\.\d{3})", out).group(1))
        assert held_out > 0.9
    if path.stem == "plot_pipeline_mixed_types":
        # The explanation is in the table's columns, not the encoded ones.
        assert re.search(r"^\s+age\s+plan\s+income\s+region$", out, re.M)
        assert "cat__plan_basic" in out
