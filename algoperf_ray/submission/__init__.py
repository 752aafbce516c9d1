"""Loading submissions the way the reference runner does, and their search spaces."""
