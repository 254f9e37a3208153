"""A pipeline's final model seen in the pipeline's input columns: samples and explanations.

The machinery underneath lives in :mod:`sklearn_ebm._column_mapping` (which
input column each transformed column comes from) and
:mod:`sklearn_ebm._pipeline_inverse` (the steps' inverses, for samples).
"""

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._column_mapping import _owners
from ._pipeline_inverse import _inverse

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
