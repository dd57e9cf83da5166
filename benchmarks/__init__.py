"""Speed and memory benchmarks, run by hand (``python -m benchmarks.<name>``)."""
