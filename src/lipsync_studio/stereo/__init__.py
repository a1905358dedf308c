"""stereo."""
