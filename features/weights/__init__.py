"""Key maps that turn public detector checkpoints into the module names of our extraction backends."""
