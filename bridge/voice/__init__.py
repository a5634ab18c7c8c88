"""Hearing Discord voice channels: discord.py only sends, so the receive side lives here.

Packets come off discord.py's own UDP socket; this package undoes the transport encryption and
DAVE, puts each speaker's packets back in order, decodes Opus and hands 16 kHz mono PCM per
member to the event loop.
"""
