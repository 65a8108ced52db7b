"""``python -m recommender.artifact``: print the layout table, what a model artifact holds."""

from recommender.artifact.layout import describe

print(describe())
