"""The Flask service (HTTP only: parse, call the core, format). Built in the service issue."""
