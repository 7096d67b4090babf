"""Adapters: event store wiring, read-model tables, settings, deletion targets."""
