"""Wire-format codecs: one package per protocol, each converting its own format to and from the IR."""
