"""One cog per concern: chat, transcription, voice, training."""
