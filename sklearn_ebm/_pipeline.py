"""Samples of a model at the end of a pipeline, mapped back to the pipeline's input."""

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder
from sklearn.utils.validation import check_is_fitted

__all__ = ["sample_from_pipeline"]


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
        array). Numeric columns are float64; an encoder's columns hold its
        fitted categories, with the dtype of ``categories_``.

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
    group, ``"infrequent_sklearn"``. Numeric columns come back as floats: round them yourself for
    integer columns, and note that samples can fall outside the training
    range (a model's tails are wider than the data's).

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
    for name, step in reversed(pipeline.steps[:-1]):
        Z = _inverse(step, Z, repr(name))
    if isinstance(Z, pd.DataFrame):
        return Z.reset_index(drop=True)
    Z = np.asarray(Z)
    names = getattr(pipeline, "feature_names_in_", None)
    if names is not None and len(names) == Z.shape[1]:
        return pd.DataFrame(Z, columns=list(names))
    return pd.DataFrame(Z)


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
