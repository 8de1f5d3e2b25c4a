"""Zalo Official Account: the channel, its webhook inbox and its access token."""
