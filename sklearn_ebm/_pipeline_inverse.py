"""Samples mapped back through a pipeline's preprocessing steps, one step's inverse at a time.

:func:`_inverse` undoes a fitted step: its own ``inverse_transform``, or,
where scikit-learn has none or one that does not take samples, a
``ColumnTransformer`` branch by branch, one-hot blocks to their most likely
category, ordinal codes rounded to a category, an imputer as the identity.
:func:`~sklearn_ebm.sample_from_pipeline` applies it to each step, last to first.
"""

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder

from ._column_mapping import _column_positions, _input_names, _n_codes


def _inverse(step, Z, where):
    """``step``'s inverse applied to ``Z``; ``where`` names the step in errors."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return Z
    if isinstance(step, Pipeline):
        for name, inner in reversed(step.steps):
            Z = _inverse(inner, Z, f"{where} > {name!r}")
        return Z
    if isinstance(step, ColumnTransformer):
        return _inverse_column_transformer(step, Z, where)
    if isinstance(step, OneHotEncoder):
        return _inverse_one_hot(step, _dense(Z))
    if isinstance(step, OrdinalEncoder):
        return _inverse_ordinal(step, _dense(Z))
    if isinstance(step, SimpleImputer):
        return _inverse_imputer(step, Z, where)
    if isinstance(step, FunctionTransformer) and step.func is not None and step.inverse_func is None:
        raise TypeError(_cannot_invert(step, where, "a FunctionTransformer without inverse_func"))
    if hasattr(step, "inverse_transform"):
        return step.inverse_transform(Z)
    raise TypeError(_cannot_invert(step, where, "it has no inverse_transform"))


def _cannot_invert(step, where, why):
    return (
        f"sample_from_pipeline cannot map samples back through step {where} "
        f"({type(step).__name__}): {why}. Use a step that can be inverted (one with "
        "inverse_transform, or FunctionTransformer(func, inverse_func=...)), or call "
        "pipeline[-1].sample(n_samples) for samples in the model's input space."
    )


def _dense(Z):
    return Z.to_numpy() if isinstance(Z, pd.DataFrame) else np.asarray(Z)


def _columns_of(part):
    """The columns of an inverted block, as a list of 1-D arrays."""
    if isinstance(part, pd.DataFrame):
        return [part.iloc[:, j].to_numpy() for j in range(part.shape[1])]
    part = np.asarray(part)
    if part.ndim == 1:
        part = part[:, None]
    return [part[:, j] for j in range(part.shape[1])]


def _inverse_column_transformer(ct, Z, where):
    Z = _dense(Z)
    names = _input_names(ct)
    columns = {}
    for name, transformer, selection in ct.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        positions = _column_positions(selection, names, f"{where} > {name!r}")
        if not positions:
            continue
        part = Z[:, ct.output_indices_[name]]
        inverted = _columns_of(_inverse(transformer, part, f"{where} > {name!r}"))
        if len(inverted) != len(positions):
            raise ValueError(
                f"The inverse of {where} > {name!r} ({type(transformer).__name__}) gave "
                f"{len(inverted)} columns for the {len(positions)} it was fitted on."
            )
        for position, column in zip(positions, inverted):
            columns.setdefault(position, column)
    return pd.DataFrame({names[i]: columns[i] for i in sorted(columns)})


def _with_category_dtypes(encoder, values):
    """A DataFrame of the inverse, each column in the dtype of its categories."""
    out = {}
    for j, categories in enumerate(encoder.categories_):
        column = values[:, j]
        if categories.dtype != object:
            column = column.astype(categories.dtype)
        out[j] = column
    return pd.DataFrame(out)


def _inverse_one_hot(encoder, Z):
    drop = getattr(encoder, "drop_idx_", None)
    onehot = np.zeros_like(Z, dtype=np.float64)
    start = 0
    for j in range(len(encoder.categories_)):
        width = _n_codes(encoder, j) - (drop is not None and drop[j] is not None)
        block = Z[:, start : start + width]
        if width > 0:
            best = block.argmax(axis=1)
            chosen = np.ones(len(Z), dtype=bool)
            if drop is not None and drop[j] is not None:
                # The dropped category is encoded as all zeros: its indicator is 1 - sum.
                chosen = block[np.arange(len(Z)), best] > 1.0 - block.sum(axis=1)
            onehot[np.flatnonzero(chosen), start + best[chosen]] = 1.0
        start += width
    if start != Z.shape[1]:
        raise ValueError(
            f"The OneHotEncoder's output has {start} columns but {Z.shape[1]} reached it; "
            "use OneHotEncoder(sparse_output=False) as the last step of its branch."
        )
    return _with_category_dtypes(encoder, encoder.inverse_transform(onehot))


def _inverse_ordinal(encoder, Z):
    codes = np.empty_like(Z, dtype=np.float64)
    for j in range(Z.shape[1]):
        codes[:, j] = np.clip(np.rint(Z[:, j]), 0, _n_codes(encoder, j) - 1)
    return _with_category_dtypes(encoder, encoder.inverse_transform(codes))


def _inverse_imputer(imputer, Z, where):
    Z = _dense(Z)
    n_features = imputer.n_features_in_
    n_indicators = 0 if imputer.indicator_ is None else len(imputer.indicator_.features_)
    if Z.shape[1] - n_indicators != n_features:
        raise TypeError(
            _cannot_invert(
                imputer, where, "it dropped columns that were empty in training; "
                "pass keep_empty_features=True"
            )
        )
    return Z[:, :n_features]
