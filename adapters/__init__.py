"""Everything that touches the world: transcript readers, stores, git, the CLI."""
