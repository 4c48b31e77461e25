"""Running it for real: readiness (`health`), Prometheus metrics (`metrics`, `collectors`)
and the log format (`logs`). The HTTP side mounts on the one server (`bot/server.py`)."""
