"""Loading FER2013: the CSV layouts (csvio), image folders (folders), FER+ labels
(labels), the parsed-array cache (cache), the arrays they become (dataset) and the
loader that picks the layout (load)."""

from ferkit.data.dataset import FERData
from ferkit.data.load import default_data_path, load_data, validation_split

__all__ = ["FERData", "default_data_path", "load_data", "validation_split"]
