"""
Mixed-type tables: a ColumnTransformer pipeline, outliers and synthetic rows
============================================================================

A table of customers with numbers (age, income) and categories (plan,
region) goes through a :class:`~sklearn.compose.ColumnTransformer`
(:class:`~sklearn.preprocessing.StandardScaler` for the numbers,
:class:`~sklearn.preprocessing.OneHotEncoder` for the categories) into the
energy-based model, in one :class:`~sklearn.pipeline.Pipeline`:

1. :class:`sklearn_ebm.EBMOutlierDetector` flags rows that break the
   relations of the data (a budget plan with a large income, an age no
   customer has), and says which of the table's columns make them unusual.
2. :class:`sklearn_ebm.EnergyBasedModel` draws synthetic customers, which
   ``sample_from_pipeline`` maps back through the preprocessing: numbers in
   their units, categories as labels, the columns of the input table.

Run it with ``python docs/examples/plot_pipeline_mixed_types.py``.
"""

# %%
# The data
# --------
# Income grows with age, and the plan follows income; the region is
# independent of both. Eight rows break these relations.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_ebm import EBMOutlierDetector, EnergyBasedModel, FeatureContributionsDisplay
from sklearn_ebm import feature_contributions_from_pipeline, sample_from_pipeline

rng = np.random.RandomState(0)
n = 1000
age = rng.uniform(20, 70, n)
income = np.exp(10 + 0.015 * (age - 45) + 0.25 * rng.randn(n))
plan = np.select([income < 18_000, income < 30_000], ["basic", "plus"], "pro")
customers = pd.DataFrame(
    {
        "age": age,
        "plan": plan,
        "income": income,
        "region": rng.choice(["north", "south", "east", "west"], n),
    }
)
odd = pd.DataFrame(
    {
        "age": [35, 50, 28, 61, 110, 45, 15, 40],
        "plan": ["basic", "basic", "pro", "basic", "plus", "pro", "plus", "plus"],
        "income": [90_000, 120_000, 9_000, 60_000, 22_000, 8_000, 25_000, 400_000],
        "region": ["north", "south", "east", "west", "north", "south", "east", "west"],
    }
)
data = pd.concat([customers, odd], ignore_index=True)
is_odd = np.r_[np.zeros(n, bool), np.ones(len(odd), bool)]
print(data.head())

# %%
# Outliers through the pipeline
# -----------------------------
# The ColumnTransformer turns the table into numbers; the detector is fitted
# on all rows, odd ones included (no labels reach ``fit``). ``predict``,
# ``decision_function`` and ``score_samples`` take the raw table.


def preprocessing():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(sparse_output=False), ["plan", "region"]),
        ]
    )


small = dict(hidden_sizes=(64, 64), max_iter=40, random_state=0)
detector = Pipeline([("prep", preprocessing()), ("ebm", EBMOutlierDetector(contamination=0.01, **small))])
detector.fit(data)
decision = detector.decision_function(data)
flagged = detector.predict(data) == -1
print(f"ROC-AUC of the odd rows against the others: {roc_auc_score(is_odd, -decision):.3f}")
print(f"Flagged {flagged.sum()} rows, {np.sum(flagged & is_odd)} of them among the {len(odd)} odd ones")

# %%
# Why a row is unusual
# --------------------
# :func:`~sklearn_ebm.feature_contributions_from_pipeline` splits each row's
# energy above the training mean among the table's own columns (positive =
# makes the row less typical). The model sees one-hot indicators; the
# indicators of one column often get large contributions of opposite signs
# that nearly cancel, so the helper sums each group back to its column.
most_unusual = data.iloc[np.argsort(decision)[:3]]
contributions = feature_contributions_from_pipeline(detector, most_unusual)
print(most_unusual)
print(contributions.round(1))

# %%
# The same for one row, by encoded feature, as the model sees it:
names = detector["prep"].get_feature_names_out()
encoded = detector["ebm"].feature_contributions(detector["prep"].transform(most_unusual.iloc[:1]))
print(pd.Series(encoded[0], index=names).round(1).to_string())

# %%
# :class:`~sklearn_ebm.FeatureContributionsDisplay` draws one row's
# contributions in the table's columns.
FeatureContributionsDisplay.from_pipeline(detector, most_unusual, row=0)
plt.tight_layout()

# %%
# Synthetic customers in the table's own columns
# ----------------------------------------------
# A density model on the inliers, then samples mapped back with each
# branch's ``inverse_transform``: the scaler gives ages and incomes, the
# one-hot block of each category its most likely label.
model = Pipeline([("prep", preprocessing()), ("ebm", EnergyBasedModel(**small))]).fit(customers)
synthetic = sample_from_pipeline(model, 1000, random_state=0)
print(synthetic.head())
print(synthetic.dtypes)

# %%
# The samples keep the relations of the data: the share of each plan and the
# median income within it. Their tails are wider than the data's (a few
# ages below 20 in the plot): clip or round them in the table's units where
# a column has hard limits.


def plan_summary(frame):
    income = frame.groupby("plan")["income"]
    return pd.DataFrame({"share": income.size() / len(frame), "median income": income.median()})


summary = pd.concat({"data": plan_summary(customers), "samples": plan_summary(synthetic)}, axis=1)
print(summary.round(2))

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for frame, label in ((customers, "data"), (synthetic, "samples")):
    axes[0].scatter(frame["age"], frame["income"], s=4, alpha=0.4, label=label)
axes[0].set(xlabel="age", ylabel="income", yscale="log", title="Age and income")
axes[0].legend()
shares = pd.DataFrame(
    {"data": customers["plan"].value_counts(normalize=True), "samples": synthetic["plan"].value_counts(normalize=True)}
)
shares.loc[["basic", "plus", "pro"]].plot.bar(ax=axes[1], rot=0, title="Share of each plan")
fig.tight_layout()
plt.show()
