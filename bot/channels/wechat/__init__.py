"""The WeChat official account channel."""
