"""The orchestrator: claim stored messages, run the pure stages, persist what they produce."""
