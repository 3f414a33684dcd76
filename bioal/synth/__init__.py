"""Synthetic stand-ins: a DCASE-shaped ``Development_Set/`` (``bioal.synth.audio``) and
synthetic clip/frame embeddings (``bioal.synth.embeddings``)."""
