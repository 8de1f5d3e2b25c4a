"""The citizen health bot: channels, dispatch, flows, services."""
