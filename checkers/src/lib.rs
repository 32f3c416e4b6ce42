//! Health checkers of real servers (TCP, HTTP, SSL, MISC, SMTP, DNS, UDP, PING, FILE) and their runner.
