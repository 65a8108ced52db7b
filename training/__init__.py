"""Offline jobs that produce and judge model artifacts: training, evaluation, the nightly job."""
