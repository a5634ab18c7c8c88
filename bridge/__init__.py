"""The discord.py bot: every command of the original bot, as cogs over core's services."""
