"""Sphinx configuration of the sklearn-ebm documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
(``pip install -e ".[docs]"`` first). The build needs no network: there is
no intersphinx, and the gallery examples only use data shipped with
scikit-learn and this package.
"""

import re
from pathlib import Path

import sklearn_ebm

DOCS = Path(__file__).resolve().parent

# -- Project -----------------------------------------------------------------

project = "sklearn-ebm"
author = "sklearn-ebm developers"
copyright = "sklearn-ebm developers"
release = sklearn_ebm.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    # sphinx-gallery's sources; the gallery is built into auto_examples.
    "examples/*.md",
    "examples/*.rst",
    "examples/*.txt",
]
# Unresolved references to Python objects outside the package (torch,
# numpy, scikit-learn) are not errors: there is no intersphinx to resolve them.
nitpicky = False

# -- autodoc / autosummary / numpydoc ----------------------------------------

autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
# The scikit-learn pattern: numpydoc renders the docstring sections, the
# autosummary templates in _templates/autosummary list the members.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- MyST --------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# -- sphinx-gallery ----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    # Every script whose name starts with plot_ runs during the build.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "doc_module": ("sklearn_ebm",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_ebm": None},
    "inspect_global_variables": False,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "default_thumb_file": None,
}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-ebm {release}"
html_static_path = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": ["sidebar-nav-bs"], "index": [], "getting_started": []}


# -- Ecosystem pages ---------------------------------------------------------

_ECOSYSTEM_TOCTREE = re.compile(r"```\{toctree\}\n:glob:\n(?:.*\n)*?```\n")


def _drop_empty_ecosystem_toctree(app, docname, source):
    """Keep the build warning-free while ``docs/ecosystem/`` holds no page yet.

    ``ecosystem.md`` lists ``ecosystem/*`` with a glob, so pages added there
    appear whatever their names; an empty glob would be a warning.
    """
    if docname != "ecosystem":
        return
    pages = [p for p in (DOCS / "ecosystem").glob("*") if p.suffix in (".md", ".rst")]
    if not pages:
        source[0] = _ECOSYSTEM_TOCTREE.sub("", source[0])


# -- Inherited scikit-learn members ---------------------------------------------

# Metadata routing is scikit-learn machinery that these estimators do not
# use; its docstrings also point at labels of scikit-learn's own docs.
_METADATA_ROUTING = re.compile(r"get_metadata_routing|set_\w+_request")


def _skip_metadata_routing(app, what, name, obj, skip, options):
    if what == "class" and _METADATA_ROUTING.fullmatch(name):
        return True
    return None


def setup(app):
    app.connect("source-read", _drop_empty_ecosystem_toctree)
    app.connect("autodoc-skip-member", _skip_metadata_routing)
