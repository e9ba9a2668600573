"""Chat sessions with the AI assistant, their messages, and search over them."""
