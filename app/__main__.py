import multiprocessing

from app.cli import main

# The console syncs in a spawned child process, which re-imports this module as
# __mp_main__: only the real start runs the command line.
if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
