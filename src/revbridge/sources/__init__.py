"""Sources: the listeners and pollers that receive bytes from the outside world. Each hands what
it receives to a handler the composition root passes in (pipeline intake), and answers the sender
only after that handler returns, that is, after the commit."""
