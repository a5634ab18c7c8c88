"""Training data: the store, import/export, the validator, token counts and fine-tunes."""
