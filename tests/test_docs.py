"""The documentation builds with warnings as errors, gallery examples included.

The build runs on a copy of ``docs/`` so that what autosummary and
sphinx-gallery generate (``generated/``, ``auto_examples/``) never lands in
the working tree, and concurrent runs do not collide.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

for _module in ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "pydata_sphinx_theme", "matplotlib"):
    pytest.importorskip(_module, reason="the docs extra is not installed: pip install -e '.[docs]'")

import sklearn_ebm  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs"
# Outputs of earlier in-place builds: not sources.
GENERATED = ("_build", "auto_examples", "generated", "sg_execution_times.rst")


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """Build the HTML documentation once; returns the output directory."""
    root = tmp_path_factory.mktemp("docs")
    source, out = root / "source", root / "html"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns(*GENERATED, "__pycache__"))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", str(source), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert result.returncode == 0, (
        f"sphinx-build failed ({result.returncode}):\n{result.stderr[-8000:]}\n{result.stdout[-4000:]}"
    )
    return out


def test_pages_are_written(html):
    for page in ("index", "getting_started", "user_guide", "ecosystem", "api", "benchmarks"):
        assert (html / f"{page}.html").is_file(), page
    ecosystem = (html / "ecosystem.html").read_text(encoding="utf-8")
    for page in sorted((DOCS / "ecosystem").glob("*.md")) + sorted((DOCS / "ecosystem").glob("*.rst")):
        assert (html / "ecosystem" / f"{page.stem}.html").is_file(), page.name
        assert f"ecosystem/{page.stem}.html" in ecosystem, f"{page.name} is not in the ecosystem toctree"


def test_api_reference_covers_the_public_api(html):
    api = (html / "api.html").read_text(encoding="utf-8")
    for name in sklearn_ebm.__all__:
        page = html / "generated" / f"sklearn_ebm.{name}.html"
        assert page.is_file(), f"{name} has no API page: add it to an autosummary in docs/api.rst"
        assert f"generated/sklearn_ebm.{name}.html" in api, f"{name} is missing from docs/api.rst"
    assert (html / "generated" / "sklearn_ebm.datasets.load_breastw.html").is_file()
    estimator = (html / "generated" / "sklearn_ebm.EnergyBasedModel.html").read_text(encoding="utf-8")
    for member in ("fit", "partial_fit", "score_samples", "score", "sample", "log_partition", "feature_contributions"):
        assert f'id="sklearn_ebm.EnergyBasedModel.{member}"' in estimator, member
    assert "langevin_steps" in estimator and "Attributes" in estimator
    detector = (html / "generated" / "sklearn_ebm.EBMOutlierDetector.html").read_text(encoding="utf-8")
    for member in ("decision_function", "predict", "fit_predict"):
        assert f'id="sklearn_ebm.EBMOutlierDetector.{member}"' in detector, member


def test_gallery_examples_ran(html):
    index = (html / "auto_examples" / "index.html").read_text(encoding="utf-8")
    examples = sorted((DOCS / "examples").glob("plot_*.py"))
    assert examples
    for script in examples:
        page = html / "auto_examples" / f"{script.stem}.html"
        assert page.is_file(), script.name
        assert f"{script.stem}.html" in index, script.name
    breastw = (html / "auto_examples" / "plot_outlier_detection_breastw.html").read_text(encoding="utf-8")
    # The executed example's printed output and its figure are on the page.
    assert "sphx-glr-script-out" in breastw
    assert "Most unusual test rows" in breastw
    assert "sphx_glr_plot_outlier_detection_breastw_001.png" in breastw
