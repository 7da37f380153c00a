"""Running student code in an isolated child process, and talking to it through a proxy."""
