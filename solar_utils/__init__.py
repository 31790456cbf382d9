"""solar_utils: the small library behind the SOLAR depth up-scaling notebooks."""

from solar_utils.quiet import quiet_libraries

__version__ = "0.1.0"

quiet_libraries()
