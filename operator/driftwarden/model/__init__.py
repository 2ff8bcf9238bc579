"""The model's view: prediction and target columns, performance, root cause, multivariate drift."""
