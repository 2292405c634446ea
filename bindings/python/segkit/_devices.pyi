# Types of segkit._devices: devices as transformers and PyTorch users name them.
from typing import Any

def device_name(device: str | int | Any | None) -> str: ...
