"""scikit-learn's bundled 8x8 handwritten digits: the offline default workload."""
