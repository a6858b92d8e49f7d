"""The kata's small infrastructure: the pytest plugin, the points, the stub generator."""
