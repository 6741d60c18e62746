"""Writes and workflows for app connections and secret syncs (HackSoft style: services write)."""
