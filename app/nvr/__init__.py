"""Reaching an NVR for the service: which device and camera a registry row stands for, and how
its footage is probed, searched and fetched (vendor download or playback). Below the requests,
cameras and exports domains, which all talk to devices; it imports none of them."""
