"""skyscan.train."""
