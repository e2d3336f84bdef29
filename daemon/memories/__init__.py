"""Memories: home -> trips / gatherings / occasions / people / periods -> curate -> store. Works from the DB
(no image is decoded); a position without a stored place is named by ingest's geocoder, as ingest would."""
