"""Fleet operations: one command over the directory stack and every site stack (see `jcqnap.fleet.cli`)."""
