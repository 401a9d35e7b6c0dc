"""The QNAP side of jcqnap: the QTS profile, settings I/O and the LdapConfig plumbing."""
