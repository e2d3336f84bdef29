"""Memories: home -> trips / gatherings / occasions / people -> curate -> store. Works from the DB only."""
