"""Notification channel kinds, one folder each (copy one to add one), found through
``notifications.channels.registry.CHANNELS``. The interface is ``channels.base.ChannelKind``."""
