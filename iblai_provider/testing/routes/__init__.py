"""Route modules of the fake server, one per API family. Each has ``register(server)``."""

from iblai_provider.testing.routes import agents, analytics, audit, reports

MODULES = (reports, agents, analytics, audit)
