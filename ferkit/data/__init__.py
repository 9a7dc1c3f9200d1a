"""Loading FER2013: the CSV layouts (csvio), the parsed-array cache (cache) and the
loader that picks the layout (load)."""

from ferkit.data.load import FERData, default_data_path, load_data, validation_split

__all__ = ["FERData", "default_data_path", "load_data", "validation_split"]
