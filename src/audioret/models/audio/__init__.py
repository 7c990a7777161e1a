"""Audio encoders: each maps [batch, samples] at its own sample rate to [batch, output_dim]."""
