"""Which input column each output column of a fitted preprocessing step comes from.

:func:`_owners` walks a step (nested ``Pipeline``, ``ColumnTransformer``,
``FeatureUnion``, encoders whose blocks of columns come from one column,
imputers and their indicators, one-to-one steps) and maps each column it
outputs to the column it took; :func:`~sklearn_ebm.feature_contributions_from_pipeline`
sums contributions with it, and :func:`~sklearn_ebm.sample_from_pipeline`
finds with it the discrete columns that reach the model one to one. The
column-selection helpers are shared with :mod:`sklearn_ebm._pipeline_inverse`.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import OneToOneFeatureMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    Normalizer,
    OneHotEncoder,
    SplineTransformer,
    TargetEncoder,
)


def _owners(step, n_in, where, invertible=False):
    """For each output column of the fitted ``step``, the input column it comes from.

    ``n_in`` is the number of columns ``step`` takes; ``where`` names it in
    errors. ``invertible=True`` also takes a FunctionTransformer with an
    ``inverse_func`` as one-to-one, as sampling does.
    """
    identity = np.arange(n_in)
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return identity
    if isinstance(step, Pipeline):
        owners = identity
        for name, inner in step.steps:
            owners = owners[_owners(inner, len(owners), f"{where} > {name!r}", invertible)]
        return owners
    if isinstance(step, ColumnTransformer):
        return _owners_column_transformer(step, where, invertible)
    if isinstance(step, FeatureUnion):
        parts = [
            _owners(inner, n_in, f"{where} > {name!r}", invertible)
            for name, inner in step.transformer_list
            if not (isinstance(inner, str) and inner == "drop")
        ]
        return np.concatenate(parts) if parts else identity[:0]
    if isinstance(step, OneHotEncoder):
        drop = getattr(step, "drop_idx_", None)
        widths = [
            _n_codes(step, j) - (drop is not None and drop[j] is not None) for j in range(n_in)
        ]
        return np.repeat(identity, widths)
    if isinstance(step, KBinsDiscretizer):
        return identity if step.encode == "ordinal" else np.repeat(identity, step.n_bins_)
    if isinstance(step, SplineTransformer):
        return np.repeat(identity, step.n_features_out_ // n_in)
    if isinstance(step, TargetEncoder):
        per_column = len(step.classes_) if step.target_type_ == "multiclass" else 1
        return np.repeat(identity, per_column)
    if isinstance(step, MissingIndicator):
        return np.asarray(step.features_, dtype=int)
    if hasattr(step, "indicator_") and hasattr(step, "add_indicator"):  # an imputer
        return _owners_imputer(step, n_in, where)
    if isinstance(step, Normalizer):
        raise TypeError(_cannot_map(step, where, "each output column divides by the norm of the whole row"))
    if isinstance(step, FunctionTransformer):
        if step.func is None or step.feature_names_out == "one-to-one":
            return identity
        if invertible and step.inverse_func is not None:
            return identity
        raise TypeError(
            _cannot_map(
                step,
                where,
                "a FunctionTransformer may mix columns; if its func transforms each column on "
                "its own (np.log1p, np.sqrt, ...), say so with feature_names_out='one-to-one'",
            )
        )
    if isinstance(step, OneToOneFeatureMixin):
        return identity
    raise TypeError(_cannot_map(step, where, "its output columns are not each computed from one input column"))


def _cannot_map(step, where, why):
    return (
        "feature_contributions_from_pipeline cannot map contributions back through step "
        f"{where} ({type(step).__name__}): {why}. Use steps whose output columns each come from "
        "one input column (scalers, encoders, imputers, FunctionTransformer(func, "
        "feature_names_out='one-to-one')), or call pipeline[-1].feature_contributions("
        "pipeline[:-1].transform(X)) for contributions of the transformed columns."
    )


def _owners_column_transformer(ct, where, invertible=False):
    names = _input_names(ct)
    width = max((s.stop for s in ct.output_indices_.values()), default=0)
    owners = np.full(width, -1)
    for name, transformer, selection in ct.transformers_:
        output = ct.output_indices_[name]
        if output.stop == output.start or (isinstance(transformer, str) and transformer == "drop"):
            continue
        inner_where = f"{where} > {name!r}"
        positions = np.asarray(_column_positions(selection, names, inner_where), dtype=int)
        inner = _owners(transformer, len(positions), inner_where, invertible)
        if len(inner) != output.stop - output.start:
            raise ValueError(
                f"Step {inner_where} ({type(transformer).__name__}) outputs "
                f"{output.stop - output.start} columns, but {len(inner)} were expected from its "
                "fitted attributes."
            )
        owners[output] = positions[inner]
    return owners


def _owners_imputer(imputer, n_in, where):
    n_indicators = 0 if imputer.indicator_ is None else len(imputer.indicator_.features_)
    indicators = [] if imputer.indicator_ is None else list(imputer.indicator_.features_)
    n_kept = len(imputer.get_feature_names_out()) - n_indicators
    if n_kept == n_in:
        kept = list(range(n_in))
    elif isinstance(imputer, SimpleImputer):
        # Columns empty in training are dropped, and their statistic is NaN.
        kept = list(np.flatnonzero(~pd.isna(imputer.statistics_)))
    else:
        raise TypeError(
            _cannot_map(
                imputer, where, "it dropped columns that were empty in training; pass keep_empty_features=True"
            )
        )
    return np.asarray(kept + indicators, dtype=int)


def _input_names(transformer):
    names = getattr(transformer, "feature_names_in_", None)
    if names is not None:
        return list(names)
    return list(range(transformer.n_features_in_))


def _column_positions(columns, names, where):
    """Positions in ``names`` of a ColumnTransformer column selection."""
    n = len(names)
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            start = 0 if columns.start is None else names.index(columns.start)
            stop = n if columns.stop is None else names.index(columns.stop) + 1  # inclusive, as pandas
            return list(range(start, stop))
        return list(range(n))[columns]
    if isinstance(columns, (str, Integral)):
        columns = [columns]
    columns = list(np.asarray(columns).tolist()) if not isinstance(columns, list) else columns
    if columns and all(isinstance(c, (bool, np.bool_)) for c in columns):
        return [i for i, keep in enumerate(columns) if keep]
    positions = []
    for c in columns:
        if isinstance(c, str):
            positions.append(names.index(c))
        elif isinstance(c, Integral):
            positions.append(int(c) % n)
        else:
            raise TypeError(f"Cannot read the column selection {columns!r} of {where}.")
    return positions


def _n_codes(encoder, j):
    """Distinct outputs of feature ``j``: categories, the infrequent ones as one."""
    n = len(encoder.categories_[j])
    infrequent = getattr(encoder, "infrequent_categories_", None)
    if infrequent is not None and infrequent[j] is not None:
        n -= len(infrequent[j]) - 1
    return n
