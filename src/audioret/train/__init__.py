"""Training: the Lightning module, the run driver, checkpoint averaging."""
