"""Keras callbacks for side effects during training: overlays, sample grids, safety."""
