"""Input validation whose errors say how to fix the input."""

import numpy as np
from sklearn.utils.validation import validate_data as _sklearn_validate_data

__all__ = ["validate_data"]

# At most this many non-numeric columns are named in an error.
_MAX_NAMED_COLUMNS = 5


def validate_data(estimator, X, **kwargs):
    """:func:`sklearn.utils.validation.validate_data`, with the fix added to its errors."""
    try:
        return _sklearn_validate_data(estimator, X, **kwargs)
    except (ValueError, TypeError) as exc:
        message, name = str(exc), type(estimator).__name__
        if isinstance(exc, ValueError) and "contains infinity" in message:
            raise ValueError(
                f"{message} {name} needs finite values: replace or clip infinities first "
                "(for example np.nan_to_num(X, posinf=..., neginf=...) or np.clip), or drop "
                "those rows."
            ) from exc
        if isinstance(exc, ValueError) and message.startswith("Complex data not supported"):
            raise ValueError(
                f"Complex data not supported: {name} needs real features; split complex "
                "columns into real and imaginary parts (np.real, np.imag) or take np.abs first."
            ) from None
        non_numeric = _non_numeric_columns(X)
        if non_numeric or (isinstance(exc, ValueError) and "could not convert string to float" in message):
            raise ValueError(_numeric_hint(message, name, non_numeric)) from exc
        raise


def _numeric_hint(message, name, non_numeric):
    """The error for non-numeric input: what failed, which columns, how to encode them."""
    if len(message) > 200:  # numpy's dtype promotion errors run on; their first sentence says it
        message = message.split(". ")[0]
    message = message.rstrip(".")
    if non_numeric:
        named = ", ".join(f"{column!r} ({dtype})" for column, dtype in non_numeric[:_MAX_NAMED_COLUMNS])
        more = len(non_numeric) - _MAX_NAMED_COLUMNS
        named += f" and {more} more" if more > 0 else ""
        which = f", but column {named} is not" if len(non_numeric) == 1 else f", but columns {named} are not"
    else:
        which = ""
    dates = any(dtype.startswith(("datetime", "timedelta", "period")) for _, dtype in non_numeric)
    return (
        f"{message}. {name} needs numeric features{which}. Encode string and categorical "
        "columns first, for example with sklearn.preprocessing.OneHotEncoder or OrdinalEncoder "
        "(in a ColumnTransformer for DataFrames)"
        + (", and turn dates into numbers (a year, a day of the week, days since a date)" if dates else "")
        + "."
    )


def _non_numeric_columns(X):
    """``(name, dtype)`` of each column of a DataFrame that numpy cannot read as numbers."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "columns"):
        return []
    import pandas as pd

    found = []
    for column, dtype in zip(X.columns, dtypes):
        if isinstance(dtype, pd.CategoricalDtype):
            numeric = pd.api.types.is_numeric_dtype(dtype.categories.dtype)
        else:
            numeric = pd.api.types.is_bool_dtype(dtype) or (
                pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
            )
            if not numeric and dtype == np.dtype(object):
                # Object columns of numbers (or None) convert; strings do not.
                numeric = not any(isinstance(v, (str, bytes)) for v in X[column].head(1000))
        if not numeric:
            found.append((column, str(dtype)))
    return found
