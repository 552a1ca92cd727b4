"""Stand-ins for the outside services Argus talks to: real servers and CLIs that
keep the documented contract (CONTRACTS.md), with their state inspectable."""
