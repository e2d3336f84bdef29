"""homeroll's core: indexing, faces, memories, collages and the service. Never imports textual."""

__version__ = "0.1.0"
