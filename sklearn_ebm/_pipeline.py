"""A pipeline's final model seen in the pipeline's input columns: samples and explanations."""

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
    OrdinalEncoder,
    SplineTransformer,
    TargetEncoder,
)
from sklearn.utils.validation import check_is_fitted

__all__ = ["feature_contributions_from_pipeline", "sample_from_pipeline"]


def sample_from_pipeline(pipeline, n_samples=1, random_state=None):
    """Draw samples from a pipeline's final model, in the units and columns of its input.

    The final step's :meth:`~sklearn_ebm.EnergyBasedModel.sample` draws rows
    in the space the model was fitted in (after the preprocessing); each
    preprocessing step, last to first, then maps them back with its
    ``inverse_transform``. A :class:`~sklearn.compose.ColumnTransformer`,
    which has no ``inverse_transform`` of its own, is inverted branch by
    branch, each branch with its own transformers:

    - :class:`~sklearn.preprocessing.OneHotEncoder`: each feature's block of
      columns becomes its most likely category, the one whose indicator is
      largest (a dropped category, from ``drop``, scores one minus the sum of
      the block);
    - :class:`~sklearn.preprocessing.OrdinalEncoder`: codes are rounded to
      the nearest fitted category;
    - scalers and other transformers with ``inverse_transform``
      (``StandardScaler``, ``MinMaxScaler``, ``QuantileTransformer``,
      ``PCA``, ...) use it; ``"passthrough"`` columns pass unchanged;
    - :class:`~sklearn.impute.SimpleImputer` is the identity (samples have no
      missing values; the columns of ``add_indicator`` are dropped);
    - columns that the ColumnTransformer drops are not in the result.

    Columns that the model found discrete (its ``discrete_columns_``: counts,
    ratings, flags) and that reach it through one-to-one steps come back on
    their training values, as the model samples them: int64 when those
    values are integers.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline whose final step is a fitted
        :class:`~sklearn_ebm.EnergyBasedModel` or
        :class:`~sklearn_ebm.EBMOutlierDetector` (anything with a ``sample``
        method), and whose other steps can be inverted as above.
    n_samples : int, default=1
        Number of samples.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampler; None uses the model's ``random_state``.

    Returns
    -------
    samples : pandas.DataFrame of shape (n_samples, n_columns)
        One row per sample, with the columns the pipeline was fitted on, in
        their order (or ``0 .. n_features - 1`` when it was fitted on an
        array). Numeric columns are float64 (int64 for discrete columns of
        integers, as above); an encoder's columns hold its fitted
        categories, with the dtype of ``categories_``.

    Raises
    ------
    TypeError
        If ``pipeline`` is not a Pipeline ending in a model with ``sample``,
        or a step cannot be inverted; the message names the step and the fix.
    ValueError
        If a step's inverse does not give back as many columns as it took.

    See Also
    --------
    sklearn_ebm.EnergyBasedModel.sample : Samples in the model's own input space.

    Notes
    -----
    A column used by several branches of a ColumnTransformer is taken from
    the first. Categories that an encoder groups as infrequent
    (``min_frequency``, ``max_categories``) come back as its label for the
    group, ``"infrequent_sklearn"``. A model's tails are wider than the
    data's, so continuous columns can fall outside the training range: fit
    the model with ``clamp="range"`` to keep samples within each column's
    training minimum and maximum (in the model's input space, which a
    monotone step such as a scaler maps back to the same range).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> from sklearn_ebm import EnergyBasedModel
    >>> from sklearn_ebm import sample_from_pipeline
    >>> rng = np.random.RandomState(0)
    >>> df = pd.DataFrame({
    ...     "age": rng.normal(40, 10, 200),
    ...     "color": rng.choice(["red", "green", "blue"], 200),
    ...     "income": rng.lognormal(10, 0.5, 200),
    ... })
    >>> prep = ColumnTransformer([
    ...     ("num", StandardScaler(), ["age", "income"]),
    ...     ("cat", OneHotEncoder(sparse_output=False), ["color"]),
    ... ])
    >>> model = make_pipeline(prep, EnergyBasedModel(hidden_sizes=(16,), max_iter=2,
    ...                                              random_state=0)).fit(df)
    >>> samples = sample_from_pipeline(model, 5, random_state=0)
    >>> samples.columns.tolist()
    ['age', 'color', 'income']
    >>> bool(samples["color"].isin(["red", "green", "blue"]).all())
    True
    """
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            f"sample_from_pipeline needs a fitted sklearn.pipeline.Pipeline, got "
            f"{type(pipeline).__name__}; for a bare model call its sample method."
        )
    model = pipeline.steps[-1][1]
    if not hasattr(model, "sample"):
        raise TypeError(
            f"The pipeline's final step {pipeline.steps[-1][0]!r} ({type(model).__name__}) has no "
            "sample method; end the pipeline with an EnergyBasedModel or EBMOutlierDetector."
        )
    check_is_fitted(model)
    Z = model.sample(n_samples, random_state=random_state)
    samples = _to_frame(pipeline, _inverse_steps(pipeline, Z))
    for column, values in _discrete_input_values(pipeline, model, Z[:1]).items():
        if column in samples.columns and pd.api.types.is_numeric_dtype(samples[column]):
            samples[column] = _on_values(samples[column].to_numpy(dtype=np.float64), values)
    return samples


def _inverse_steps(pipeline, Z):
    for name, step in reversed(pipeline.steps[:-1]):
        Z = _inverse(step, Z, repr(name))
    return Z


def _to_frame(pipeline, Z):
    if isinstance(Z, pd.DataFrame):
        return Z.reset_index(drop=True)
    Z = np.asarray(Z)
    names = getattr(pipeline, "feature_names_in_", None)
    if names is not None and len(names) == Z.shape[1]:
        return pd.DataFrame(Z, columns=list(names))
    return pd.DataFrame(Z)


def _discrete_input_values(pipeline, model, row):
    """Input column -> its values in the input's units, for each column the model found discrete.

    The model snaps its samples of ``discrete_columns_`` onto ``discrete_values_``;
    for a column that reaches the model through one-to-one steps, those values
    are mapped back with the same inverses as the samples (a probe of one row
    per value, ``row`` elsewhere). Columns behind a one-hot block, or steps
    that cannot be mapped, are left out.
    """
    columns = getattr(model, "discrete_columns_", None)
    values = getattr(model, "discrete_values_", None)
    if columns is None or values is None or not len(columns):
        return {}
    n_in = getattr(pipeline, "n_features_in_", None)
    if n_in is None:
        return {}
    try:
        owners = np.arange(n_in)
        for name, step in pipeline.steps[:-1]:
            owners = owners[_owners(step, len(owners), repr(name), invertible=True)]
    except (TypeError, ValueError, AttributeError):
        return {}
    if len(owners) != np.shape(row)[1]:
        return {}
    names = getattr(pipeline, "feature_names_in_", None)
    names = list(names) if names is not None else list(range(n_in))
    counts = np.bincount(owners, minlength=n_in)
    found = {}
    for j, column_values in zip(columns, values):
        i = owners[j]
        if counts[i] != 1:  # one of several columns of one input column (a one-hot block, ...)
            continue
        probe = np.repeat(np.asarray(row, dtype=np.float64), len(column_values), axis=0)
        probe[:, j] = column_values
        try:
            inverted = _to_frame(pipeline, _inverse_steps(pipeline, probe))
        except (TypeError, ValueError):
            continue
        if names[i] in inverted.columns and pd.api.types.is_numeric_dtype(inverted[names[i]]):
            # 12 significant digits: the inverses' rounding errors (2.0000000000000004) go.
            mapped = inverted[names[i]].to_numpy(dtype=np.float64)
            found[names[i]] = np.unique([float(f"{v:.12g}") for v in mapped])
    return found


def _on_values(column, values):
    """``column`` moved to the nearest of ``values``; int64 when the values are integers."""
    midpoints = (values[1:] + values[:-1]) / 2
    snapped = values[np.searchsorted(midpoints, column)]
    rounded = np.rint(values)
    if np.all(np.abs(values - rounded) <= 1e-9 * (1.0 + np.abs(values))):
        return np.rint(snapped).astype(np.int64)
    return snapped


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


def _n_codes(encoder, j):
    """Distinct outputs of feature ``j``: categories, the infrequent ones as one."""
    n = len(encoder.categories_[j])
    infrequent = getattr(encoder, "infrequent_categories_", None)
    if infrequent is not None and infrequent[j] is not None:
        n -= len(infrequent[j]) - 1
    return n


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


# ------------------------------------------------------------ explanations


def feature_contributions_from_pipeline(pipeline, X, n_steps=32):
    """Split each row's energy among the columns of a pipeline's input.

    The preprocessing steps transform ``X``; the final step's
    :meth:`~sklearn_ebm.EnergyBasedModel.feature_contributions` splits each
    transformed row's energy above the training mean among the transformed
    columns (integrated gradients from the mean of the transformed training
    data); and each transformed column's contribution is added to the input
    column it was computed from. A categorical column behind a
    :class:`~sklearn.preprocessing.OneHotEncoder` gets the sum of its
    indicators' contributions, which often nearly cancel one by one. Each row
    still sums to ``E(x) - E(mean)`` of the final model, as the model's own
    contributions do.

    Each output column of a step must come from one input column:

    - :class:`~sklearn.compose.ColumnTransformer`: each branch on its own
      columns (``"passthrough"`` and ``remainder="passthrough"`` one to one);
      columns it drops get a contribution of 0; a column that several
      branches use gets the sum of their contributions;
    - :class:`~sklearn.preprocessing.OneHotEncoder`,
      :class:`~sklearn.preprocessing.KBinsDiscretizer`,
      :class:`~sklearn.preprocessing.SplineTransformer`, multiclass
      :class:`~sklearn.preprocessing.TargetEncoder`: each column's block
      sums back to the column;
    - scalers and other one-to-one steps (``StandardScaler``,
      ``MinMaxScaler``, ``RobustScaler``, ``QuantileTransformer``,
      ``PowerTransformer``, ``OrdinalEncoder``, ...), a
      :class:`~sklearn.preprocessing.FunctionTransformer` with
      ``feature_names_out="one-to-one"`` or without ``func``: column to column;
    - imputers: column to column, the ``add_indicator`` columns to the column
      they flag;
    - nested ``Pipeline`` and ``FeatureUnion``: through their steps.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline whose final step has ``feature_contributions``
        (:class:`~sklearn_ebm.EnergyBasedModel`,
        :class:`~sklearn_ebm.EBMOutlierDetector`).
    X : array-like or DataFrame of shape (n_samples, n_columns)
        Rows to explain, as the pipeline takes them.
    n_steps : int, default=32
        Quadrature points along the integration path, passed to the final
        step's ``feature_contributions``.

    Returns
    -------
    contributions : pandas.DataFrame of shape (n_samples, n_columns)
        One column per input column, with ``X``'s column names and index
        when ``X`` is a DataFrame (else columns ``x0, x1, ...``). Positive
        values make a row less typical.

    Raises
    ------
    TypeError
        If ``pipeline`` is not a Pipeline ending in a model with
        ``feature_contributions``, or a step's output columns do not each
        come from one input column (``PCA``, ``PolynomialFeatures``,
        ``Normalizer``, a ``FunctionTransformer`` without
        ``feature_names_out="one-to-one"``, ...); the message names the step
        and the fix.

    See Also
    --------
    sklearn_ebm.EnergyBasedModel.feature_contributions : Contributions of the transformed columns.
    sklearn_ebm.FeatureContributionsDisplay : A bar chart of one row's contributions.
    sample_from_pipeline : Samples mapped back to the input's columns.

    Notes
    -----
    The reference point is the mean of the transformed training data (for
    a one-hot block: the categories' frequencies), not a row of the input.
    Columns that are strongly correlated (in the input, or one-hot
    indicators of one column) can get large contributions of opposite signs
    that mostly cancel: the path from the mean leaves the data's
    correlations, where the energy is steep in both directions. Their sum
    is stable; that is why the indicators of a categorical column are
    summed here. Sum correlated numeric columns yourself (for example
    ``contributions[["perimeter", "area"]].sum(axis=1)``) when only their
    total is meaningful.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.compose import ColumnTransformer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder, StandardScaler
    >>> from sklearn_ebm import EBMOutlierDetector, feature_contributions_from_pipeline
    >>> rng = np.random.RandomState(0)
    >>> df = pd.DataFrame({
    ...     "age": rng.normal(40, 10, 300),
    ...     "plan": rng.choice(["basic", "plus", "pro"], 300),
    ... })
    >>> prep = ColumnTransformer([
    ...     ("num", StandardScaler(), ["age"]),
    ...     ("cat", OneHotEncoder(sparse_output=False), ["plan"]),
    ... ])
    >>> pipe = make_pipeline(prep, EBMOutlierDetector(hidden_sizes=(16,), max_iter=3,
    ...                                                random_state=0)).fit(df)
    >>> rows = pd.DataFrame({"age": [40.0, 95.0], "plan": ["plus", "basic"]}, index=[7, 8])
    >>> contributions = feature_contributions_from_pipeline(pipe, rows)
    >>> contributions.columns.tolist(), contributions.index.tolist()
    (['age', 'plan'], [7, 8])
    >>> str(contributions.loc[8].idxmax())
    'age'
    """
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            "feature_contributions_from_pipeline needs a fitted sklearn.pipeline.Pipeline, got "
            f"{type(pipeline).__name__}; for a bare model call its feature_contributions method."
        )
    name, model = pipeline.steps[-1]
    if not hasattr(model, "feature_contributions"):
        raise TypeError(
            f"The pipeline's final step {name!r} ({type(model).__name__}) has no "
            "feature_contributions method; end the pipeline with an EnergyBasedModel or "
            "EBMOutlierDetector."
        )
    check_is_fitted(model)
    index = X.index if isinstance(X, pd.DataFrame) else None
    columns = list(X.columns) if isinstance(X, pd.DataFrame) else None
    Xt = pipeline[:-1].transform(X) if len(pipeline.steps) > 1 else X
    n_columns = len(columns) if columns is not None else np.shape(X)[1]
    owners = np.arange(n_columns)
    for step_name, step in pipeline.steps[:-1]:
        owners = owners[_owners(step, len(owners), repr(step_name))]
    contributions = np.asarray(model.feature_contributions(Xt, n_steps=n_steps), dtype=np.float64)
    if contributions.shape[1] != len(owners):
        raise ValueError(
            f"The final step {name!r} gave contributions for {contributions.shape[1]} columns, but "
            f"the preprocessing outputs {len(owners)}; is the pipeline fitted on this data?"
        )
    to_input = np.zeros((len(owners), n_columns))
    to_input[np.arange(len(owners)), owners] = 1.0
    if columns is None:
        columns = [f"x{j}" for j in range(n_columns)]
    return pd.DataFrame(contributions @ to_input, columns=columns, index=index)


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
