"""The test suite (``make test``): one file per module or concern, the properties and the golden checks."""
