from os import PathLike

import numpy as np
import numpy.typing as npt
from PIL import Image

# A path, a PIL image or a uint8 H×W×3 RGB array.
_ImageInput = str | PathLike[str] | Image.Image | npt.NDArray[np.uint8]

def as_rgb_array(image: _ImageInput) -> npt.NDArray[np.uint8]: ...
