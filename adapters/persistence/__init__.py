"""Event store, blob store and read-model stores."""
