"""The web face: ``threadline serve`` and the HTML export, over the one read port."""
