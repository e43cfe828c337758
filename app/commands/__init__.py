"""The handlers of the `saksi` commands, imported only when their command runs."""
