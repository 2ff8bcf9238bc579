"""End-to-end test on a kind cluster (run.sh) and the checks it shares with the test suite."""
