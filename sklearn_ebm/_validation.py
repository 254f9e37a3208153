"""Input validation whose errors say how to fix the input."""

from sklearn.utils.validation import validate_data as _sklearn_validate_data

__all__ = ["validate_data"]


def validate_data(estimator, X, **kwargs):
    """:func:`sklearn.utils.validation.validate_data`, with the fix added to its errors."""
    try:
        return _sklearn_validate_data(estimator, X, **kwargs)
    except ValueError as exc:
        message, name = str(exc), type(estimator).__name__
        if "could not convert string to float" in message:
            raise ValueError(
                f"{message}. {name} needs numeric features: encode string and categorical "
                "columns first, for example with sklearn.preprocessing.OneHotEncoder or "
                "OrdinalEncoder (in a ColumnTransformer for DataFrames)."
            ) from exc
        if "contains infinity" in message:
            raise ValueError(
                f"{message} {name} needs finite values: replace or clip infinities first "
                "(for example np.nan_to_num(X, posinf=..., neginf=...) or np.clip), or drop "
                "those rows."
            ) from exc
        if message.startswith("Complex data not supported"):
            raise ValueError(
                f"Complex data not supported: {name} needs real features; split complex "
                "columns into real and imaginary parts (np.real, np.imag) or take np.abs first."
            ) from None
        raise
