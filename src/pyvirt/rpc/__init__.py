"""libvirt's wire protocol: XDR codec, protocol tables, message framing.

Placeholder docstring; see the modules.
"""
