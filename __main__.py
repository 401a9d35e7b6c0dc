"""jcqnap: the stack's role (directory, site or all-in-one) and its resources come from config."""

from jcqnap.stack import main

main()
