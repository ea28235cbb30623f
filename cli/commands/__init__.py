"""One module per berth command: `register(commands)` adds its parser; its `run(env, args)` does the work."""
