"""skyscan.evaluate."""
