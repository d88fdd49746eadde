"""Remote archives into the store: OONI's S3 layouts (``layout``), anonymous S3 access (``s3``), the
records of one object (``records``) and the resumable sync (``sync``)."""
