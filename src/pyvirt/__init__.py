"""pyvirt: a pure-Python libvirt."""
