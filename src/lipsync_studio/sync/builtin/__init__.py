"""The built-in lip-sync engine: no downloaded weights; mouths planned from the dub, drawn from the clip."""
