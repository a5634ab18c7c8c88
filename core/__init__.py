"""Voxdesk's speech and training engine.

A library with an async API that any front end can drive. It imports neither Qt nor discord.
"""
