"""solar_utils: the small library behind the SOLAR depth up-scaling notebooks."""

__version__ = "0.1.0"
