"""Request and response models (``XBase`` / ``XCreate`` / ``XPublic`` / ``XsPublic``), one module per resource."""
